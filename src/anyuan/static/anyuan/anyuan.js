/* Behaviour every page shares, from a file: the Content-Security-Policy allows no inline
   script and no on...= attribute (docs/operations.md). */
(function () {
  "use strict";
  // <select data-autosubmit>: choosing an option submits its form (language, filters)
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[data-autosubmit]") || !select.form) return;
    if (select.form.requestSubmit) select.form.requestSubmit();
    else select.form.submit();
  });
})();
