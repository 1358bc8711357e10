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
  // Shares as the server writes them (crm_web/web/numbers.py): "30.3%" in English, "30,3 %" in Russian.
  var percent = new Intl.NumberFormat(document.documentElement.lang || "en",
    {style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1});
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
      cell.textContent = total > 0 && weights[i] > 0 ? percent.format(weights[i] / total) : "—";
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

// A live region (the queue's rows, one's own contacts) is not refreshed while
// someone is choosing an operator in it, so the list does not change under
// the open select or the chosen value; it is refreshed as soon as they are done.
(function () {
  "use strict";
  function changed(field) {
    if (field.tagName !== "SELECT") return field.value !== field.defaultValue;
    var initial = 0;  // without a preselected option, the first one
    for (var i = 0; i < field.options.length; i++) {
      if (field.options[i].defaultSelected) { initial = i; break; }
    }
    return field.selectedIndex !== initial;
  }
  function busy(elt) {
    var active = document.activeElement;
    var typing = active && elt.contains(active) && /^(SELECT|TEXTAREA|INPUT)$/.test(active.tagName);
    var fields = elt.querySelectorAll("select, textarea, input[type=text]");
    return typing || Boolean(elt.querySelector("details[open]")) || Array.prototype.some.call(fields, changed);
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-poll")) return;
    if (busy(elt)) {
      event.preventDefault();
      elt.setAttribute("data-stale", "");
    }
  });
  function retry(event) {
    var region = event.target.closest && event.target.closest("[data-poll][data-stale]");
    if (!region) return;
    setTimeout(function () {
      if (region.isConnected && !busy(region)) {
        region.removeAttribute("data-stale");
        window.htmx.trigger(region, "live-retry");
      }
    }, 0);
  }
  document.addEventListener("change", retry);
  document.addEventListener("focusout", retry);
  document.addEventListener("toggle", retry, true);  // a row's form closed (toggle does not bubble)
})();

// Live pages (docs/live.md): poll /live with the state the page shows; when
// the queue or one's own contacts change, tell the live regions to refresh
// (htmx events "live-queue", "live-mine" on <body>), and keep the waiting
// count in the title and the navigation. Optionally a sound and a desktop
// notification for an operator user, switched on by a click, per user.
(function () {
  "use strict";
  var body = document.body;
  var url = body && body.getAttribute("data-live");
  if (!url || !window.fetch) return;
  var interval = Number(body.getAttribute("data-live-interval")) || 1500;
  var state = JSON.parse(body.getAttribute("data-live-state") || "{}");
  var operator = body.getAttribute("data-live-operator") === "1";
  var prefsKey = "crm-live-" + body.getAttribute("data-live-user");
  var baseTitle = document.title.replace(/^\(\d+\)\s*/, "");
  var audio = null;
  var SPREAD_MS = Number(body.getAttribute("data-live-spread")) || 0;

  function prefs() {
    try { return JSON.parse(window.localStorage.getItem(prefsKey) || "{}"); } catch (e) { return {}; }
  }
  function savePrefs(value) {
    try { window.localStorage.setItem(prefsKey, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function showCount(waiting) {
    document.title = (waiting ? "(" + waiting + ") " : "") + baseTitle;
    document.querySelectorAll("#queue-badge, [data-live-waiting]").forEach(function (badge) {
      badge.textContent = String(waiting);
      badge.classList.toggle("badge-alert", waiting > 0);
    });
  }
  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    audio = audio || new Context();
    if (audio.state === "suspended") audio.resume();
    var tone = audio.createOscillator();
    var gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.3);
  }
  function notify(kind, version) {
    var chosen = prefs();
    if (!chosen.sound && !chosen.desktop) return;
    // One notice per change, however many tabs are open.
    var seenKey = prefsKey + "-seen";
    try {
      if (window.localStorage.getItem(seenKey) === version) return;
      window.localStorage.setItem(seenKey, version);
    } catch (e) { /* private mode: every tab speaks */ }
    if (chosen.sound) beep();
    if (chosen.desktop && window.Notification && Notification.permission === "granted" && document.hidden) {
      var note = new Notification(body.getAttribute("data-live-text-" + kind) || "Mini CRM", {tag: "crm-" + kind});
      note.onclick = function () { window.focus(); note.close(); };
    }
  }
  // `fromStream`: the stream tells every open page of a change at the same moment, so each fetches
  // its rows a random moment within SPREAD_MS later; polls are spread by their own phase.
  function apply(next, fromStream) {
    var previous = state;
    state = next;
    showCount(next.waiting);
    var parts = String(next.v).split("~"), before = String(previous.v || "").split("~");
    var spread = fromStream ? Math.random() * SPREAD_MS : 0;
    if (parts[0] !== before[0]) setTimeout(function () { window.htmx && window.htmx.trigger(body, "live-queue"); }, spread);
    if (parts[1] !== before[1]) setTimeout(function () { window.htmx && window.htmx.trigger(body, "live-mine"); }, spread);
    if (!operator) return;
    if (next.mine_count > (previous.mine_count || 0)) notify("assigned", next.v);
    else if (next.waiting > (previous.waiting || 0)) notify("waiting", next.v);
  }
  function renew() {
    return fetch(body.getAttribute("data-live-renew"), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok || response.redirected) return false;  // signed out: the page stops polling
        return response.json().then(function (answer) {
          var next = new URL(url, window.location.href);
          next.searchParams.set("t", answer.ticket);
          url = next.pathname + next.search;
          return true;
        });
      });
  }
  function ticket() {
    return new URL(url, window.location.href).searchParams.get("t") || "";
  }
  // With a stream (data-live-stream): its events instead of polling. A stream that
  // never opens (not deployed, refused three times) leaves the page polling.
  var stream = body.getAttribute("data-live-stream");
  var failures = 0;
  function listen() {
    var target = new URL(stream, window.location.href);
    target.searchParams.set("t", ticket());
    target.searchParams.set("v", state.v || "");
    var source = new window.EventSource(target.href);
    var opened = false;
    source.onopen = function () { opened = true; failures = 0; };
    source.onmessage = function (event) { apply(JSON.parse(event.data), true); };
    source.addEventListener("renew", function () {
      source.close();
      renew().then(function (goOn) { if (goOn) listen(); });
    });
    source.onerror = function () {
      // CONNECTING: the browser reconnects by itself; CLOSED: refused (an old ticket, a 503).
      if (opened && source.readyState !== window.EventSource.CLOSED) return;
      source.close();
      failures += 1;
      if (failures >= 3) { setTimeout(poll, interval); return; }
      renew().then(function (goOn) { if (goOn) setTimeout(listen, 1000 * failures); });
    };
  }
  function poll() {
    var target = new URL(url, window.location.href);
    target.searchParams.set("v", state.v || "");
    fetch(target.pathname + target.search, {credentials: "omit", cache: "no-store"})
      .then(function (response) {
        if (response.status === 204) return true;
        if (response.status === 401) return renew();
        if (!response.ok) return true;
        return response.json().then(function (next) { apply(next, false); return true; });
      })
      .catch(function () { return true; })  // offline or restarting: try again
      .then(function (goOn) { if (goOn) setTimeout(poll, interval); });
  }
  showCount(state.waiting || 0);
  if (stream && window.EventSource) listen();
  else setTimeout(poll, interval);

  // The notification switches (user menu): shown only with this script.
  document.querySelectorAll("[data-live-switch]").forEach(function (button) {
    var kind = button.getAttribute("data-live-switch");
    function show() {
      var on = Boolean(prefs()[kind]);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = button.getAttribute(on ? "data-on" : "data-off");
    }
    if (kind === "desktop" && !window.Notification) return;
    button.hidden = false;
    show();
    button.addEventListener("click", function () {
      var chosen = prefs();
      chosen[kind] = !chosen[kind];
      if (kind === "sound" && chosen.sound) beep();  // the click lets the page play sound
      if (kind === "desktop" && chosen.desktop && Notification.permission !== "granted") {
        Notification.requestPermission().then(function (answer) {
          chosen.desktop = answer === "granted";
          savePrefs(chosen);
          show();
        });
        return;
      }
      savePrefs(chosen);
      show();
    });
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
