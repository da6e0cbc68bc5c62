// Keyboard shortcuts for the focused review page. The page works without
// this file: every key only clicks a button or picks an option that is
// already there.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    var target = event.target;
    if (target && /^(INPUT|TEXTAREA)$/.test(target.tagName)) return;
    var key = event.key.toLowerCase();
    var reason = document.getElementById("reject-reason");
    if (/^[1-9]$/.test(key) && reason && reason.options.length >= Number(key)) {
      reason.selectedIndex = Number(key) - 1;
      event.preventDefault();
      return;
    }
    var button = document.querySelector('button[data-key="' + key + '"]');
    if (button) {
      event.preventDefault();
      // Disable every button so a held or double key cannot decide twice.
      document.querySelectorAll("button[data-key]").forEach(function (b) { b.disabled = true; });
      button.form.requestSubmit ? button.form.requestSubmit() : button.form.submit();
    }
  });
})();
