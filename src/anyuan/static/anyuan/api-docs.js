/* The interactive API docs (/api/v1/docs): swagger-ui served from this server
   (vendor/swagger-ui, npm package swagger-ui-dist). The page embeds no CSRF token:
   unsafe requests made with "Try it out" read it from the CSRF cookie when sent. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || !window.SwaggerUIBundle) return;
  var cookieName = root.dataset.csrfCookie || "csrftoken";

  function csrfToken() {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].trim().split("=");
      if (kv[0] === cookieName) return decodeURIComponent(kv.slice(1).join("="));
    }
    return "";
  }

  window.ui = window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null, // no call to an outside validator
    requestInterceptor: function (request) {
      if (!/^(GET|HEAD|OPTIONS)$/i.test(request.method || "GET")) {
        request.headers["X-CSRFToken"] = csrfToken();
      }
      return request;
    },
  });
})();
