/* anyuan live push (no build step, no CDN).
 *
 * Listens to GET /live/events (Server-Sent Events; see docs/live.md). On "alert" it shows
 * a small toast for a new or escalated alert, updates or removes the toast of an alert
 * already shown, and fires the DOM event "anyuan:alert" on <body> (through htmx.trigger
 * when htmx is present, so `hx-trigger="anyuan:alert from:body"` refreshes a list); on
 * "occupancy" it fires "anyuan:occupancy". The payload is the event's `detail`. Low-
 * severity alerts pop up no toast; they only refresh the lists.
 *
 * One tab of the browser holds the connection (a Web Lock) and passes the messages to the
 * others (BroadcastChannel): browsers allow six HTTP/1.1 connections per host, and every
 * open tab holding one would exhaust them. When that tab closes, another takes over and
 * resumes after the last message id it was passed.
 *
 * Texts come from data attributes of this <script> element, rendered by the template with
 * {% translate %}; everything from the server is set with textContent, never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.EventSource || !window.JSON) return;
  var data = script.dataset;
  var STREAM = data.url || "/live/events";
  var ALERT_URL = data.alertUrl || "/alerts/0/";
  var TOPICS = ["alert", "occupancy"];
  var SEVERITIES = ["low", "medium", "high", "critical"];
  var SHOW = ["raise", "escalate"]; // transitions that pop up a toast
  var UPDATE = ["repeat", "note"]; // transitions that only refresh a toast already shown
  var STAY_MS = 15000; // low and medium toasts go away by themselves; high and critical stay
  var MAX_TOASTS = 5;

  var box = null;
  var shown = {}; // alert id → toast element
  var lastId = "";

  function fire(name, payload) {
    if (window.htmx && window.htmx.trigger) {
      // a copy: htmx adds the element to the detail it is given, and the payload is also
      // posted to the other tabs, which cannot clone an element
      window.htmx.trigger(document.body, name, Object.assign({}, payload));
    } else {
      document.body.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: payload }));
    }
  }

  function container() {
    if (!box) {
      box = document.createElement("div");
      box.className = "live-toasts";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }

  function remove(id) {
    var el = shown[id];
    if (el) {
      delete shown[id];
      if (el.parentNode) el.parentNode.removeChild(el);
    }
  }

  function part(parent, tag, cls) {
    var el = document.createElement(tag);
    el.className = cls;
    parent.appendChild(el);
    return el;
  }

  function toast(alert, create) {
    var id = String(alert.id);
    var el = shown[id];
    if (!el) {
      if (!create) return;
      el = document.createElement("div");
      var head = part(el, "div", "live-toast-head");
      part(head, "span", "live-toast-severity");
      part(head, "span", "live-toast-type");
      part(head, "span", "live-toast-count");
      var close = part(head, "button", "live-toast-close");
      close.type = "button";
      close.textContent = "×";
      close.setAttribute("aria-label", data.close || "Close");
      close.title = data.close || "Close";
      close.addEventListener("click", function () { remove(id); });
      part(el, "a", "live-toast-title");
      shown[id] = el;
      var list = container();
      list.insertBefore(el, list.firstChild);
      while (list.children.length > MAX_TOASTS) {
        var oldest = list.lastChild;
        for (var key in shown) if (shown[key] === oldest) delete shown[key];
        list.removeChild(oldest);
      }
    }
    var severity = SEVERITIES.indexOf(alert.severity) >= 0 ? alert.severity : "medium";
    el.className = "live-toast sev-" + severity;
    el.querySelector(".live-toast-severity").textContent = data[severity] || severity;
    el.querySelector(".live-toast-type").textContent = alert.type_label || alert.type || "";
    el.querySelector(".live-toast-count").textContent =
      alert.repeat_count > 1 ? "×" + alert.repeat_count : "";
    var title = el.querySelector(".live-toast-title");
    title.textContent = alert.title || "";
    title.href = ALERT_URL.replace(/\/0\/$/, "/" + encodeURIComponent(id) + "/");
    clearTimeout(el._anyuanTimer);
    if (severity === "low" || severity === "medium") {
      el._anyuanTimer = setTimeout(function () { remove(id); }, STAY_MS);
    }
  }

  function handle(type, payload) {
    if (!payload || typeof payload !== "object") return;
    if (type === "alert") {
      // a page with its own alert feed (the wall-screen dashboard) asks for no toasts
      if (document.body.dataset.liveToasts === "off") { /* the page shows it */ }
      // low-severity alerts (a double entry at a turnstile) go to the queue, not a pop-up
      else if (SHOW.indexOf(payload.transition) >= 0 && payload.severity !== "low") toast(payload, true);
      else if (UPDATE.indexOf(payload.transition) >= 0) toast(payload, false);
      else remove(String(payload.id)); // acknowledged, dispatched, closed: someone has it
      fire("anyuan:alert", payload);
    } else if (type === "occupancy") {
      fire("anyuan:occupancy", payload);
    }
  }

  var channel = window.BroadcastChannel ? new BroadcastChannel("anyuan-live") : null;
  if (channel) {
    channel.onmessage = function (e) {
      var m = e.data || {};
      if (m.id) lastId = m.id;
      handle(m.type, m.payload);
    };
  }

  function connect() {
    var url = STREAM;
    if (lastId) {
      url += (url.indexOf("?") < 0 ? "?" : "&") + "last_event_id=" + encodeURIComponent(lastId);
    }
    var source = new EventSource(url);
    TOPICS.forEach(function (type) {
      source.addEventListener(type, function (e) {
        var payload;
        try {
          payload = JSON.parse(e.data);
        } catch (err) {
          return;
        }
        if (e.lastEventId) lastId = e.lastEventId;
        handle(type, payload);
        if (channel) channel.postMessage({ type: type, payload: payload, id: lastId });
      });
    });
    // The browser reconnects by itself (sending Last-Event-ID); a refusal (signed out)
    // closes the source for good.
    return source;
  }

  if (channel && navigator.locks && navigator.locks.request) {
    navigator.locks.request("anyuan-live", function () {
      connect();
      return new Promise(function () {}); // held while this tab lives
    });
  } else {
    connect();
  }
})();
