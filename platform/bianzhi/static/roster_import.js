// 花名册导入: poll the import's status (any app server answers it from the database) and move
// the progress bar; reload the page when the import has finished or failed.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-bind=text]");
  var url = box.getAttribute("data-status-url");

  function show(s) {
    bar.max = s.total || 1;
    bar.value = s.done;
    if (s.status === "queued") {
      text.textContent = "排队中";
    } else if (s.phase === "写入" && s.done === 0) {
      text.textContent = "写入中…";
    } else {
      text.textContent = (s.phase || "") + " " + s.done + " / " + s.total;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.status === "done" || s.status === "failed") {
          window.location.reload();
          return;
        }
        show(s);
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
