// The start form's "Also paint these rooms" boxes: the genre chosen above is
// always one of the model's rooms, so its own box is shown ticked and cannot
// be changed; choosing another genre frees it again.
(function () {
  "use strict";
  function sync() {
    var genre = document.getElementById("id_genre");
    if (!genre) return;
    var boxes = document.querySelectorAll("input[name='also']");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      var own = box.value === genre.value && genre.value !== "";
      if (own) {
        box.dataset.wasChecked = box.checked ? "1" : "";
        box.checked = true;
        box.disabled = true;
        box.closest("label").classList.add("run-own-genre");
      } else if (box.disabled) {
        box.disabled = false;
        box.checked = box.dataset.wasChecked === "1";
        box.closest("label").classList.remove("run-own-genre");
      }
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var genre = document.getElementById("id_genre");
    if (genre) genre.addEventListener("change", sync);
    sync();
  });
})();
