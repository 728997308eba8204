// lienthong console: the little behaviour pages need; everything works without it.
// Pages that say data-refresh reload themselves, unless the operator is typing or choosing in a form.
const refresh = Number(document.body.dataset.refresh || 0);
if (refresh > 0) {
  window.setInterval(() => {
    const busy = document.activeElement && ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (!busy && document.visibilityState === "visible") window.location.reload();
  }, refresh * 1000);
}
document.addEventListener("submit", (event) => {
  const question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
