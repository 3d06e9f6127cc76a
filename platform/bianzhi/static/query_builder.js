// 组合查询: the form works without this; it adds rows and offers only the operators a field allows.
(function () {
  "use strict";
  var form = document.getElementById("qb-form");
  if (!form) { return; }
  var body = document.querySelector("#qb-rows tbody");
  var add = document.getElementById("qb-add");
  var MAX_ROWS = 30;

  function limitOperators(row) {
    var field = row.querySelector('select[name^="f"]');
    var op = row.querySelector('select[name^="o"]');
    var chosen = field.options[field.selectedIndex];
    var allowed = chosen && chosen.dataset.ops ? chosen.dataset.ops.split(",") : null;
    Array.prototype.forEach.call(op.options, function (option) {
      option.disabled = allowed !== null && allowed.indexOf(option.value) < 0;
    });
    if (op.options[op.selectedIndex] && op.options[op.selectedIndex].disabled) {
      var first = Array.prototype.find.call(op.options, function (o) { return !o.disabled; });
      if (first) { op.value = first.value; }
    }
  }

  function wire(row) {
    var field = row.querySelector('select[name^="f"]');
    field.addEventListener("change", function () { limitOperators(row); });
    limitOperators(row);
  }

  Array.prototype.forEach.call(body.querySelectorAll("tr.qb-row"), wire);

  add.hidden = false;
  add.addEventListener("click", function () {
    var rows = body.querySelectorAll("tr.qb-row");
    if (rows.length >= MAX_ROWS) { return; }
    var copy = rows[rows.length - 1].cloneNode(true);
    var index = rows.length;
    Array.prototype.forEach.call(copy.querySelectorAll("select, input"), function (el) {
      el.name = el.name.replace(/\d+$/, String(index));
      if (el.tagName === "INPUT") { el.value = ""; } else { el.selectedIndex = 0; }
    });
    body.appendChild(copy);
    wire(copy);
  });

  // switching between 人员 and 单位 reloads the form with that target's fields
  var target = document.getElementById("qb-target");
  target.addEventListener("change", function () {
    window.location.assign(form.action + "?target=" + encodeURIComponent(target.value));
  });
})();
