// Keyward admin pages: the one script. Copies a secret to the clipboard; every page works without it.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent).then(function () {
    var status = document.getElementById(button.getAttribute("data-copy") + "-status");
    if (status) status.textContent = "Copied to the clipboard.";
  });
});
document.querySelectorAll("button[data-copy]").forEach(function (button) { button.hidden = false; });
