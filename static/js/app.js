// The page behaviour that used to live in inline handlers, driven by data attributes so the
// Content-Security-Policy can forbid inline script (script-src 'self').
(function () {
  "use strict";

  // Capture phase on the document: runs before htmx's own submit listener on the form,
  // so a cancelled confirmation stops both the normal submit and an hx-post.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });

  // The offer form: a newly chosen tier brings its own split of the duties (captured before htmx
  // posts the live price, so the price follows the loaded split).
  document.addEventListener("change", function (event) {
    var el = event.target;
    var form = el.form;
    if (el.name !== "tier" || !form || !form.hasAttribute("data-tier-duties")) { return; }
    var split = JSON.parse(form.getAttribute("data-tier-duties"))[el.value] || {};
    Object.keys(split).forEach(function (duty) {
      var select = form.elements["duty_" + duty];
      if (select) { select.value = split[duty]; }
    });
  }, true);

  document.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest("[data-print]");
    if (el) {
      event.preventDefault();
      window.print();
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-select-on-focus")) {
      event.target.select();
    }
  });

  // Bar widths come as data-width (percent); set through the CSSOM, which the policy allows,
  // unlike style="" attributes in the markup.
  function widths(root) {
    var bars = (root || document).querySelectorAll("[data-width]");
    for (var i = 0; i < bars.length; i++) {
      bars[i].style.width = Math.max(0, Math.min(100, parseFloat(bars[i].getAttribute("data-width")) || 0)) + "%";
    }
  }

  // The top menu: folded behind a button on a phone; its groups are dropdowns on a wide screen.
  function navigation() {
    var bar = document.querySelector(".topbar");
    var burger = bar && bar.querySelector("[data-nav-toggle]");
    if (!burger) { return; }
    bar.classList.add("has-js");
    burger.hidden = false;
    burger.addEventListener("click", function () {
      var open = bar.classList.toggle("nav-open");
      burger.setAttribute("aria-expanded", open ? "true" : "false");
      var groups = bar.querySelectorAll(".navgroup");
      for (var i = 0; i < groups.length; i++) { groups[i].open = open; }
    });
    document.addEventListener("click", function (event) {
      if (bar.classList.contains("nav-open")) { return; }
      var groups = bar.querySelectorAll(".navgroup[open]");
      for (var i = 0; i < groups.length; i++) {
        if (!groups[i].contains(event.target)) { groups[i].open = false; }
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") { return; }
      var groups = bar.querySelectorAll(".navgroup[open]");
      for (var i = 0; i < groups.length; i++) { groups[i].open = false; }
    });
  }

  // A row of tabs wider than a phone scrolls sideways: bring the current one into view.
  function currentTab() {
    var bars = document.querySelectorAll(".tabs");
    for (var i = 0; i < bars.length; i++) {
      var current = bars[i].querySelector(".current");
      if (current && current.offsetLeft + current.offsetWidth > bars[i].clientWidth) {
        bars[i].scrollLeft = current.offsetLeft - 16;
      }
    }
  }

  // A section of the server page (snapshots, settings, ...) loads again when the operation it watched
  // is done (server_live sends the event), but not over a form the customer has started to fill in:
  // then a notice offers the reload and the form stays as it is. A form sent back with its errors is
  // marked data-edited in the template: it holds what was typed, and its page came from a POST.
  document.addEventListener("input", function (event) {
    if (event.isTrusted && event.target.form) { event.target.form.setAttribute("data-edited", ""); }
  });
  document.addEventListener("change", function (event) {
    if (event.isTrusted && event.target.form) { event.target.form.setAttribute("data-edited", ""); }
  });
  document.addEventListener("server-operation-finished", function () {
    var notice = document.querySelector("[data-reload-notice]");
    if (notice && document.querySelector("form[data-edited]")) {
      notice.hidden = false;
    } else {
      window.location.reload();
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-reload]")) { window.location.reload(); }
  });

  document.addEventListener("DOMContentLoaded", function () { widths(document); navigation(); currentTab(); });
  document.addEventListener("htmx:load", function (event) { widths(event.target); });
})();
