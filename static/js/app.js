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
  // The rule is the server's, rendered on each input: pattern, data-min,
  // data-max and data-step (its decimal places; trailing zeros do not count).
  function weightOf(input) {
    var text = input.value.trim();
    if (text === "") return null;  // no rule for this operator
    if (!new RegExp("^(?:" + input.getAttribute("pattern") + ")$").test(text)) return NaN;
    text = text.replace(",", ".");
    var places = (input.getAttribute("data-step").split(".")[1] || "").length;
    var decimals = (text.split(".")[1] || "").replace(/0+$/, "");
    var value = parseFloat(text);
    var inRange = value >= parseFloat(input.getAttribute("data-min")) &&
      value <= parseFloat(input.getAttribute("data-max"));
    return decimals.length <= places && inRange ? value : NaN;
  }
  function updateShares(table) {
    var inputs = table.querySelectorAll("input[data-weight]");
    var weights = [], total = 0;
    inputs.forEach(function (input) {
      var value = weightOf(input);
      var ok = !Number.isNaN(value);
      // Mark only mistakes; a green tick on every valid weight is noise.
      if (ok) input.removeAttribute("aria-invalid");
      else input.setAttribute("aria-invalid", "true");
      weights.push(ok && value !== null ? value : 0);
      total += ok && value !== null ? value : 0;
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
  // Row editors (a source's field map): "Add a row" clones the row in its <template>, and each
  // row's button removes it. Without script the page offers blank rows; clearing a name drops a row.
  function rowsFull(add) {
    var body = document.querySelector(add.getAttribute("data-add-row"));
    var max = parseInt(add.getAttribute("data-max-rows") || "0", 10);
    return !body || (max > 0 && body.children.length >= max);
  }
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var template = document.querySelector(add.getAttribute("data-row-template"));
      if (!template || rowsFull(add)) return;
      var row = template.content.firstElementChild.cloneNode(true);
      row.querySelectorAll("[data-remove-row]").forEach(function (b) { b.hidden = false; });
      document.querySelector(add.getAttribute("data-add-row")).appendChild(row);
      add.disabled = rowsFull(add);
      var input = row.querySelector("input, select");
      if (input) input.focus();
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove && remove.closest("tr")) {
      remove.closest("tr").remove();
      document.querySelectorAll("[data-add-row]").forEach(function (b) { b.disabled = rowsFull(b); });
    }
  });
  function init() {
    document.querySelectorAll("[data-weights]").forEach(updateShares);
    document.querySelectorAll("[data-add-row], [data-remove-row]").forEach(function (b) { b.hidden = false; });
    document.querySelectorAll("[data-add-row]").forEach(function (b) { b.disabled = rowsFull(b); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

// Queue polling: skip a refresh while someone is choosing an operator, so
// the list does not change under the open select or the chosen value.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-poll")) return;
    var active = document.activeElement;
    var choosing = active && elt.contains(active) && active.tagName === "SELECT";
    var chosen = Array.prototype.some.call(elt.querySelectorAll("select"), function (select) {
      return select.value !== "";
    });
    if (choosing || chosen) event.preventDefault();
  });
})();

// htmx requests of the queue: a sign-in that expired loads the login page
// as a page (not inside the table), and a refused action says so.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (!xhr || !xhr.responseURL) return;
    var url = new URL(xhr.responseURL, window.location.href);
    if (url.origin === window.location.origin && url.pathname === "/login") {
      event.detail.shouldSwap = false;
      window.location.assign(url.pathname + url.search);
    }
  });
  function showFailure(event) {
    var elt = event.detail && event.detail.elt;
    var rows = document.getElementById("queue-rows");
    var box = document.getElementById("queue-message");
    if (!elt || elt.tagName !== "FORM" || !rows || !box || !rows.contains(elt)) return;
    var note = document.createElement("p");
    note.className = "flash flash-error";
    note.setAttribute("role", "alert");
    note.textContent = rows.getAttribute("data-error-text") || "Error";
    box.replaceChildren(note);
  }
  document.addEventListener("htmx:responseError", showFailure);
  document.addEventListener("htmx:sendError", showFailure);
})();
