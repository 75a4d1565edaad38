// The pages' small behaviours, kept out of the HTML so that the Content-Security-Policy
// can refuse every inline script (web/security_headers.py).

// Subscribe options: a Copy button puts its feed URL (data-copy) on the clipboard.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => { button.textContent = "Copied"; });
});
