// Mini CRM: the few behaviours that need script. No inline handlers (CSP).
(function () {
  "use strict";

  // Forms with data-confirm ask before submitting (delete, new token, ...).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Copy buttons: <button data-copy="#input-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied") || "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done);
    } else {
      field.select();
      document.execCommand("copy");
      done();
    }
  });

  // Weight tables: each operator's share of the total, updated while typing.
  function updateShares(table) {
    var inputs = table.querySelectorAll("input[data-weight]");
    var weights = [], total = 0;
    inputs.forEach(function (input) {
      var text = input.value.trim().replace(",", ".");
      var value = /^\d{1,3}(\.\d{1,2})?$/.test(text) ? parseFloat(text) : NaN;
      var ok = text === "" || (value >= 0.01 && value <= 999.99);
      input.setAttribute("aria-invalid", ok ? (text === "" ? "" : "false") : "true");
      if (text === "" ) input.removeAttribute("aria-invalid");
      weights.push(ok && text !== "" ? value : 0);
      total += ok && text !== "" ? value : 0;
    });
    inputs.forEach(function (input, i) {
      var cell = table.querySelector("[data-share-for='" + input.name + "']");
      if (!cell) return;
      cell.textContent = total > 0 && weights[i] > 0 ? (100 * weights[i] / total).toFixed(1) + " %" : "—";
    });
  }
  document.addEventListener("input", function (event) {
    var table = event.target.closest && event.target.closest("[data-weights]");
    if (table) updateShares(table);
  });
  function init() {
    document.querySelectorAll("[data-weights]").forEach(updateShares);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
