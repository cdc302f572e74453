// Behaviour shared by every page: CSRF for htmx, confirmations, copy buttons, menus.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  window.linkflowCsrfToken = csrfToken;

  // htmx requests carry the CSRF token like a form post would.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });

  // <form data-confirm="Delete this workflow?"> asks in a modal dialog before submitting;
  // the same on a button (data-confirm on the submit button itself).
  function askThen(message, proceed) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(message)) proceed();
      return;
    }
    dialog.querySelector("#confirm-dialog-text").textContent = message;
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "confirm") proceed();
    });
    dialog.showModal();
  }
  window.linkflowConfirm = askThen;

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var message = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (!message || form.dataset.confirmed === "yes") return;
    event.preventDefault();
    askThen(message, function () {
      form.dataset.confirmed = "yes";
      if (submitter && submitter.name) {
        var carry = document.createElement("input");
        carry.type = "hidden";
        carry.name = submitter.name;
        carry.value = submitter.value;
        form.appendChild(carry);
      }
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
      delete form.dataset.confirmed;
    });
  });

  // <button data-copy="#element-id"> copies that element's text (or value).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.dataset.copy);
    if (!source) return;
    var text = "value" in source && source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.trim()).then(done, function () { selectText(source); });
    } else {
      selectText(source);
      try { document.execCommand("copy"); done(); } catch (e) { /* selected for the user */ }
    }
  });

  function selectText(element) {
    if (element.select) { element.select(); return; }
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // <select data-autosubmit> submits its form on change (the workspace switcher, filters).
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) {
      var form = event.target.form;
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    }
  });

  // The header menu at phone width.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".nav-toggle");
    if (!toggle) return;
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
