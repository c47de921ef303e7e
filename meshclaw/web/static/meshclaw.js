// MeshClaw's own browser code. It lives in a static file because the Content-Security-Policy allows no
// inline script. It only adds comfort: every page works without it.
"use strict";

// "Copy" buttons: <button data-copy="#element-id"> copies that element's text to the clipboard.
document.addEventListener("click", function (event) {
  const button = event.target.closest("button[data-copy]");
  if (!button) {
    return;
  }
  const source = document.querySelector(button.dataset.copy);
  if (!source || !navigator.clipboard) {
    return;
  }
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 2000);
  });
});

// At most one team editor open at a time; a click elsewhere closes it.
document.addEventListener("click", function (event) {
  document.querySelectorAll("details.team-edit[open]").forEach(function (open) {
    if (!open.contains(event.target)) {
      open.removeAttribute("open");
    }
  });
});
