/* The smart dashboard (no build step, no CDN; ECharts is served from node_modules).
 *
 * The page is a frame rendered by dashboard/views.py; this script fills it from the data
 * endpoints (/api/v1/dashboard/...) with the police's grid/enterprise filter, and keeps it
 * current: live.js fires "anyuan:alert" and "anyuan:occupancy" on <body> as the server
 * pushes them, and each refreshes the endpoints it touches (coalesced, so a burst of
 * events costs one request per endpoint); everything is refreshed each minute anyway.
 * New high or critical alerts flash the board and, when switched on, beep (Web Audio: no
 * sound file). Texts come translated in #dashboard-strings; server data is set with
 * textContent, never as HTML.
 */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root) return;
  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : {};
  }
  var T = json("dashboard-strings");
  var API = json("dashboard-endpoints");
  var URLS = json("dashboard-urls");
  var RINGS = json("dashboard-rings");
  var WALL = root.dataset.wall === "1";
  var CAN_ACK = root.dataset.acknowledge === "1";
  var CSRF = root.dataset.csrf;
  var LOCALE = document.documentElement.lang === "en" ? "en" : "zh-CN";
  var REFRESH_ALL_MS = 60000;
  var SEVERE = ["high", "critical"];

  function fmt(text, values) {
    return String(text).replace(/%\((\w+)\)s/g, function (_, key) {
      return values && values[key] !== undefined ? values[key] : "";
    });
  }
  function num(n) {
    return n === null || n === undefined ? "–" : Number(n).toLocaleString(LOCALE);
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function link(url, id) {
    return url.replace(/\/0\/(?=[^/]*$)/, "/" + encodeURIComponent(id) + "/").replace(/\/0$/, "/" + encodeURIComponent(id));
  }
  function duration(minutes) {
    if (minutes === null || minutes === undefined) return "–";
    if (minutes < 60) return fmt(T.minutes, { n: minutes });
    return fmt(T.hours_minutes, { h: Math.floor(minutes / 60), m: minutes % 60 });
  }
  function timeOf(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" });
  }

  // --- filters (police) -------------------------------------------------------------
  var filters = document.getElementById("dash-filters");
  var gridSelect = document.getElementById("filter-grid");
  var firmSelect = document.getElementById("filter-enterprise");
  function query() {
    var params = new URLSearchParams();
    if (gridSelect && gridSelect.value) params.set("grid", gridSelect.value);
    if (firmSelect && firmSelect.value) params.set("enterprise", firmSelect.value);
    return params;
  }
  function narrowFirms() {
    if (!gridSelect || !firmSelect) return;
    var grid = gridSelect.value;
    Array.prototype.forEach.call(firmSelect.options, function (option) {
      if (!option.value) return;
      option.hidden = !!grid && option.dataset.grid !== grid;
    });
    var chosen = firmSelect.selectedOptions[0];
    if (chosen && chosen.hidden) firmSelect.value = "";
  }
  if (filters) {
    narrowFirms();
    filters.addEventListener("change", function (e) {
      if (e.target === gridSelect) narrowFirms();
      var params = query();
      if (WALL) params.set("wall", "1");
      history.replaceState(null, "", "?" + params.toString());
      seenAlerts = null; // a new selection is not news
      flashing = {};
      refresh(Object.keys(API));
    });
    filters.addEventListener("submit", function (e) { e.preventDefault(); });
  }

  // --- charts -------------------------------------------------------------------------
  var charts = {};
  function chart(id) {
    if (!window.echarts) return null;
    if (!charts[id]) {
      var box = document.getElementById(id);
      if (!box) return null;
      charts[id] = window.echarts.init(box, WALL ? "dark" : null, { renderer: "canvas" });
    }
    return charts[id];
  }
  function opts(option) {
    if (WALL) option.backgroundColor = "transparent";
    return option;
  }
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });

  // --- KPIs -------------------------------------------------------------------------------
  function kpi(id, value, detail, level) {
    var box = document.getElementById(id);
    if (!box) return;
    var b = box.querySelector("[data-value]");
    var text = typeof value === "string" ? value : num(value);
    if (b.textContent !== text && b.textContent !== "–") {
      box.classList.remove("changed");
      void box.offsetWidth; // restart the animation
      box.classList.add("changed");
    }
    b.textContent = text;
    box.querySelector("[data-detail]").textContent = detail || "";
    box.classList.toggle("level-danger", level === "danger");
    box.classList.toggle("level-warning", level === "warning");
  }

  // --- renderers --------------------------------------------------------------------------
  var render = {};

  render.occupancy = function (data) {
    var capacity = data.rings.reduce(function (s, r) { return s + (r.capacity || 0); }, 0);
    var overdue = data.visitor_vehicles.filter(function (v) { return v.overdue; }).length;
    kpi("kpi-people", data.people);
    kpi("kpi-vehicles", data.vehicles);
    kpi("kpi-visitors", data.visitor_vehicles_total, overdue ? fmt(T.overdue, { n: overdue }) : "", overdue ? "warning" : null);
    // rings: inside against capacity
    var order = RINGS.map(function (r) { return r.value; });
    var rings = data.rings.slice().sort(function (a, b) { return order.indexOf(a.ring) - order.indexOf(b.ring); });
    var c = chart("chart-rings");
    if (c) {
      c.setOption(opts({
        grid: { left: 8, right: 72, top: 24, bottom: 8, containLabel: true },
        legend: { top: 0, data: [T.people, T.vehicles] },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", inverse: true, data: rings.map(function (r) { return r.label; }) },
        series: [
          { name: T.people, type: "bar", stack: "in", data: rings.map(function (r) { return r.people; }) },
          {
            name: T.vehicles, type: "bar", stack: "in",
            data: rings.map(function (r) { return r.vehicles; }),
            label: {
              show: true, position: "right",
              formatter: function (p) {
                var r = rings[p.dataIndex];
                return num(r.inside) + (r.capacity ? " / " + num(r.capacity) : "");
              }
            }
          }
        ]
      }), true);
    }
    // the fullest zones
    var body = document.querySelector("#zones-table tbody");
    body.textContent = "";
    var zones = data.zones.slice(0, 30);
    if (!zones.length) body.appendChild(emptyRow(4, T.no_zones));
    zones.forEach(function (z) {
      var tr = el("tr", z.over_capacity ? { className: "over" } : null);
      var name = el("td");
      name.appendChild(el("a", { href: link(URLS.muster, z.id), title: T.muster }, z.name));
      tr.appendChild(name);
      tr.appendChild(el("td", { className: "t-num" }, num(z.inside)));
      tr.appendChild(el("td", { className: "t-num" }, z.capacity === null ? "–" : num(z.capacity)));
      var bar = el("td");
      if (z.utilisation !== null) {
        var fill = el("span", { className: "fill", title: Math.round(z.utilisation * 100) + "%" });
        var inner = el("i", { className: z.utilisation > 1 ? "over" : z.utilisation > 0.8 ? "warn" : "" });
        inner.style.width = Math.min(100, Math.round(z.utilisation * 100)) + "%";
        fill.appendChild(inner);
        bar.appendChild(fill);
      }
      tr.appendChild(bar);
      body.appendChild(tr);
    });
    // visitor vehicles, longest stay first
    var vbody = document.querySelector("#visitors-table tbody");
    vbody.textContent = "";
    if (!data.visitor_vehicles.length) vbody.appendChild(emptyRow(3, T.no_visitors));
    data.visitor_vehicles.forEach(function (v) {
      var tr = el("tr", v.overdue ? { className: "over" } : null);
      var plate = el("td", null, v.plate);
      var note = !v.known ? T.unknown_plate : v.valid_until ? fmt(T.allowed_until, { t: timeOf(v.valid_until) }) : "";
      if (note) plate.appendChild(el("small", { className: "muted" }, " " + note));
      tr.appendChild(plate);
      tr.appendChild(el("td", null, v.zone.name));
      tr.appendChild(el("td", { className: "t-num" }, duration(v.minutes)));
      vbody.appendChild(tr);
    });
  };

  render.passages_hourly = function (data) {
    kpi("kpi-passages", data.total, fmt(T.vs_last_week, { n: num(data.compare_until_now) }));
    document.getElementById("hourly-compare").textContent = data.day + " / " + data.compare_day;
    var c = chart("chart-hourly");
    if (!c) return;
    c.setOption(opts({
      grid: { left: 8, right: 8, top: 28, bottom: 8, containLabel: true },
      legend: { top: 0, data: [T.in, T.out, T.last_week] },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.hours.map(function (h) { return h.label.slice(0, 2); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: T.in, type: "bar", stack: "today", data: data.hours.map(function (h) { return h.future ? null : h["in"]; }) },
        { name: T.out, type: "bar", stack: "today", data: data.hours.map(function (h) { return h.future ? null : h.out; }) },
        {
          name: T.last_week, type: "line", smooth: true, symbol: "none",
          lineStyle: { type: "dashed" }, data: data.hours.map(function (h) { return h.compare_total; })
        }
      ]
    }), true);
  };

  var seenAlerts = null; // ids in the feed at the last refresh: what is new since
  var flashing = {}; // id -> when it came in: it stays marked new across re-renders
  var FLASH_MS = 10000;
  render.alerts = function (data) {
    var high = (data.open.by_severity.high || 0) + (data.open.by_severity.critical || 0);
    kpi("kpi-alerts", data.open.total, high ? fmt(T.high_or_critical, { n: high }) : "", high ? "danger" : data.open.total ? "warning" : null);
    document.getElementById("feed-count").textContent = num(data.open.total);
    var feed = document.getElementById("feed");
    feed.textContent = "";
    var fresh = [];
    if (!data.feed.length) feed.appendChild(el("li", { className: "empty" }, T.no_alerts));
    var now = Date.now();
    data.feed.forEach(function (a) {
      var isNew = seenAlerts !== null && !seenAlerts[a.id] && a.state === "new";
      if (isNew && SEVERE.indexOf(a.severity) >= 0) fresh.push(a);
      if (isNew) flashing[a.id] = now;
      // a burst of events re-renders the feed every few hundred ms: an alert that came in
      // keeps flashing for FLASH_MS, until acknowledged
      var flash = a.state === "new" && flashing[a.id] && now - flashing[a.id] < FLASH_MS;
      var li = el("li", { className: "sev-" + a.severity + " state-" + a.state + (flash ? " is-new" : ""), "data-alert": a.id });
      li.appendChild(el("span", { className: "sev" }, a.severity_label));
      var what = el("div", { className: "what" });
      what.appendChild(el("a", { href: link(URLS.alert, a.id) }, a.title || a.type_label));
      li.appendChild(what);
      if (a.state === "new" && CAN_ACK) {
        var button = el("button", { type: "button", className: "ack" }, T.acknowledge);
        button.addEventListener("click", function () { acknowledge(a.id, button); });
        li.appendChild(button);
      } else {
        li.appendChild(el("span", { className: "state" }, a.state_label));
      }
      var meta = [a.type_label, a.zone ? a.zone.name : "", timeOf(a.last_seen)];
      if (a.repeat_count > 1) meta.push(fmt(T.times, { n: a.repeat_count }));
      li.appendChild(el("div", { className: "meta" }, meta.filter(Boolean).join(" · ")));
      feed.appendChild(li);
    });
    seenAlerts = {};
    data.feed.forEach(function (a) { seenAlerts[a.id] = true; });
    if (fresh.length) alarm();
    // by type: today as a list, the last 30 days as stacked columns
    var list = document.getElementById("types-today");
    list.textContent = "";
    list.appendChild(el("li", null, T.by_type_today + ":"));
    if (!data.today.length) list.appendChild(el("li", null, T.none_today));
    data.today.forEach(function (t) {
      var li = el("li", null, t.label);
      li.appendChild(el("b", null, num(t.count)));
      list.appendChild(li);
    });
    var used = {};
    data.days.forEach(function (d) { Object.keys(d.by_type).forEach(function (k) { used[k] = true; }); });
    var types = data.types.filter(function (t) { return used[t.type]; });
    var c = chart("chart-types");
    if (!c) return;
    c.setOption(opts({
      grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", confine: true },
      xAxis: { type: "category", data: data.days.map(function (d) { return String(d.day).slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: types.map(function (t) {
        return {
          name: t.label, type: "bar", stack: "day",
          data: data.days.map(function (d) { return d.by_type[t.type] || 0; })
        };
      })
    }), true);
  };

  // how a zone looks on the map, worst first; a parent shows the worst of its subtree
  var STATUS = ["alerts", "over", "full", "some", "empty", "uncounted"];
  var COLOURS = {
    alerts: "#c92a2a", over: "#e8590c", full: "#f59f00", some: "#2f9e44",
    empty: WALL ? "#1d3b5c" : "#b8c7d6", uncounted: "#8a97a6"
  };
  function statusOf(z) {
    if (z.inside === null) return "uncounted";
    if (z.open_alerts) return "alerts";
    if (z.over_capacity) return "over";
    if (z.capacity && z.inside / z.capacity > 0.8) return "full";
    return z.inside ? "some" : "empty";
  }
  render.zones = function (data) {
    var byId = {};
    var roots = [];
    data.zones.forEach(function (z) {
      byId[z.id] = {
        name: z.name, id: z.id, value: Math.max(z.capacity || 0, z.inside || 0, 1),
        zone: z, status: statusOf(z), children: []
      };
    });
    data.zones.forEach(function (z) {
      var node = byId[z.id];
      if (z.parent !== null && byId[z.parent]) byId[z.parent].children.push(node);
      else roots.push(node);
    });
    function finish(node) {
      var worst = STATUS.indexOf(node.status);
      if (node.children.length) {
        var sum = 0;
        node.children.forEach(function (child) {
          sum += finish(child);
          worst = Math.min(worst, STATUS.indexOf(child.status));
        });
        node.value = Math.max(sum, node.value);
      } else {
        delete node.children;
      }
      node.status = STATUS[worst];
      node.itemStyle = { color: COLOURS[node.status], borderColor: WALL ? "#0b1623" : "#fff" };
      if (node.children && node.status === "alerts") node.itemStyle.borderColor = COLOURS.alerts;
      return node.value;
    }
    roots.forEach(finish);
    // a perimeter holding one park holding the buildings: start where the tree branches
    while (roots.length === 1 && roots[0].children && roots[0].children.length) {
      roots = roots[0].children;
    }
    document.getElementById("map-note").textContent = T.zone_map_hint;
    var c = chart("chart-map");
    if (!c) return;
    c.setOption(opts({
      tooltip: {
        formatter: function (p) {
          var z = p.data && p.data.zone;
          if (!z) return "";
          var lines = [z.name];
          if (z.inside === null) lines.push(T.not_counted);
          else {
            lines.push(T.inside + ": " + num(z.inside) + (z.capacity ? " / " + num(z.capacity) : ""));
            if (z.open_alerts) lines.push(T.alerts + ": " + num(z.open_alerts));
            if (z.over_capacity) lines.push(T.over_capacity);
          }
          return lines.map(function (s) { return window.echarts.format.encodeHTML(String(s)); }).join("<br>");
        }
      },
      series: [{
        name: T.all_zones, type: "treemap", roam: false, nodeClick: "zoomToNode", leafDepth: 2,
        breadcrumb: { show: true, bottom: 0 },
        top: 4, left: 4, right: 4, bottom: 28,
        label: { show: true, formatter: function (p) {
          var z = p.data.zone;
          return z && z.inside !== null ? p.name + "\n" + num(z.inside) : p.name;
        } },
        upperLabel: { show: true, height: 18, color: WALL ? "#e6eef7" : "#1b2430" },
        levels: [
          { itemStyle: { gapWidth: 3, borderWidth: 0 }, upperLabel: { show: false } },
          { itemStyle: { gapWidth: 2, borderWidth: 3 } },
          { itemStyle: { gapWidth: 1, borderWidth: 1 } }
        ],
        data: roots
      }]
    }), true);
  };
  if (document.getElementById("chart-map")) {
    document.getElementById("chart-map").addEventListener("dblclick", function () {
      if (lastMapZone) window.location.href = link(URLS.muster, lastMapZone);
    });
  }
  var lastMapZone = null;

  render.devices = function (data) {
    kpi("kpi-devices", num(data.online) + " / " + num(data.active),
      data.silent ? fmt(T.silent, { n: data.silent }) : "", data.silent ? "warning" : null);
    var body = document.querySelector("#devices-table tbody");
    body.textContent = "";
    if (!data.silent_devices.length) body.appendChild(emptyRow(3, T.no_silent));
    data.silent_devices.forEach(function (d) {
      var tr = el("tr");
      tr.appendChild(el("td", { title: d.serial }, d.name || d.serial));
      tr.appendChild(el("td", null, d.zone.name));
      tr.appendChild(el("td", { className: "t-num" }, duration(d.silent_minutes)));
      body.appendChild(tr);
    });
  };

  render.tiles = function (data) {
    var box = document.getElementById("tiles");
    box.textContent = "";
    data.tiles.forEach(function (t) {
      var tile = el(t.url ? "a" : "div", { className: "tile level-" + t.level, id: "tile-" + t.key.replace(/\W/g, "-") });
      if (t.url) tile.setAttribute("href", t.url);
      tile.appendChild(el("b", null, typeof t.value === "number" ? num(t.value) + (t.unit || "") : String(t.value) + (t.unit || "")));
      tile.appendChild(el("span", null, t.title));
      if (t.detail) tile.appendChild(el("small", null, t.detail));
      box.appendChild(tile);
    });
    document.getElementById("panel-tiles").hidden = !data.tiles.length;
  };

  function emptyRow(span, text) {
    var tr = el("tr");
    tr.appendChild(el("td", { colspan: span, className: "empty" }, text));
    return tr;
  }

  // --- fetching -----------------------------------------------------------------------------
  var PANEL = {
    occupancy: "panel-rings", passages_hourly: "panel-hourly", alerts: "panel-feed",
    zones: "panel-map", devices: "panel-devices", tiles: "panel-tiles"
  };
  var inflight = {};
  var again = {};
  function load(name) {
    if (inflight[name]) { again[name] = true; return; }
    inflight[name] = true;
    var params = query();
    var url = API[name] + (params.toString() ? "?" + params.toString() : "");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { window.location.reload(); throw new Error(r.status); }
        if (!r.ok) throw new Error(r.status + " " + r.statusText);
        return r.json();
      })
      .then(function (data) {
        clearError(name);
        render[name](data);
        stamp();
      })
      .catch(function (e) { showError(name, e.message); })
      .then(function () {
        inflight[name] = false;
        if (again[name]) { again[name] = false; load(name); }
      });
  }
  function showError(name, reason) {
    var panel = document.getElementById(PANEL[name]);
    if (!panel) return;
    var box = panel.querySelector(".panel-error") || panel.appendChild(el("p", { className: "panel-error", role: "alert" }));
    box.textContent = fmt(T.error, { reason: reason });
  }
  function clearError(name) {
    var panel = document.getElementById(PANEL[name]);
    var box = panel && panel.querySelector(".panel-error");
    if (box) box.remove();
  }
  var timers = {};
  function refresh(names, delay) {
    names.forEach(function (name) {
      if (!API[name]) return;
      if (!delay) { clearTimeout(timers[name]); timers[name] = null; load(name); return; }
      if (timers[name]) return; // already due: one request for the burst
      timers[name] = setTimeout(function () { timers[name] = null; load(name); }, delay);
    });
  }
  function stamp() {
    document.getElementById("dash-updated").textContent = fmt(T.updated, {
      time: new Date().toLocaleTimeString(LOCALE)
    });
  }

  // --- acknowledging ----------------------------------------------------------------------
  function acknowledge(id, button) {
    button.disabled = true;
    fetch(link(URLS.acknowledge, id), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": CSRF, "Content-Type": "application/json", Accept: "application/json" },
      body: "{}"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error(body.detail || body.message || r.status);
        button.textContent = T.acknowledged;
        refresh(["alerts", "zones", "tiles"]);
      });
    }).catch(function (e) {
      button.disabled = false;
      window.alert(fmt(T.ack_failed, { reason: e.message }));
    });
  }

  // --- sound and flash ------------------------------------------------------------------------
  var soundButton = document.getElementById("dash-sound");
  var audio = null;
  var soundOn = false;
  function setSound(on) {
    soundOn = on;
    try { localStorage.setItem("anyuan.dashboard.sound", on ? "1" : "0"); } catch (e) { /* private mode */ }
    if (soundButton) {
      soundButton.setAttribute("aria-pressed", on ? "true" : "false");
      soundButton.textContent = on ? T.sound_on : T.sound_off;
    }
  }
  if (soundButton) {
    soundButton.addEventListener("click", function () {
      // browsers start audio only from a click: the context is made here
      if (!audio && (window.AudioContext || window.webkitAudioContext)) {
        audio = new (window.AudioContext || window.webkitAudioContext)();
      }
      setSound(!soundOn);
      if (soundOn) beep();
    });
    var stored = null;
    try { stored = localStorage.getItem("anyuan.dashboard.sound"); } catch (e) { /* none */ }
    if (stored === "1") soundButton.setAttribute("data-wanted", "1"); // needs a click to start
  }
  function beep() {
    if (!soundOn || !audio) return;
    [0, 0.35, 0.7].forEach(function (at) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, audio.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + at + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + at);
      osc.stop(audio.currentTime + at + 0.3);
    });
  }
  function alarm() {
    root.classList.remove("flash");
    void root.offsetWidth;
    root.classList.add("flash");
    root.dataset.flashes = String((Number(root.dataset.flashes) || 0) + 1);
    beep();
  }

  // --- live ---------------------------------------------------------------------------------
  document.body.addEventListener("anyuan:alert", function () {
    refresh(["alerts", "zones", "tiles"], 250);
  });
  document.body.addEventListener("anyuan:occupancy", function () {
    refresh(["occupancy", "zones"], 1000);
    refresh(["passages_hourly"], 10000);
  });
  var dot = document.getElementById("dash-live");
  window.addEventListener("online", function () { if (dot) dot.className = "live-dot on"; });
  window.addEventListener("offline", function () { if (dot) dot.className = "live-dot off"; });
  if (dot) dot.className = "live-dot on";

  var fullscreen = document.getElementById("dash-fullscreen");
  if (fullscreen && document.documentElement.requestFullscreen) {
    fullscreen.addEventListener("click", function () {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen();
    });
  } else if (fullscreen) {
    fullscreen.hidden = true;
  }

  var clock = document.getElementById("dash-clock");
  function tick() {
    if (clock) clock.textContent = new Date().toLocaleString(LOCALE, { hour12: false });
  }
  tick();
  setInterval(tick, 1000);

  function start() {
    var map = chart("chart-map");
    if (map) map.on("mouseover", function (p) { if (p.data && p.data.id) lastMapZone = p.data.id; });
    refresh(Object.keys(API));
    setInterval(function () { refresh(Object.keys(API), 10); }, REFRESH_ALL_MS);
  }
  if (window.echarts) start();
  else window.addEventListener("load", start);
})();
