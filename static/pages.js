// The pages' small behaviours, kept out of the HTML so that the Content-Security-Policy
// can refuse every inline script (web/security_headers.py).

// Where a listener stopped in each audio, kept in this browser only (localStorage, whole
// seconds, forgotten at the end): a player of that audio on any page starts there. Set as
// the player's data-start before static/player.js mounts it (this script comes first);
// the player itself keeps nothing, as it must in a sandboxed frame.
const STOPPED = "storyfeed:at:";
const kept = (() => { try { return window.localStorage; } catch (err) { return null; } })();
document.querySelectorAll("[data-player]").forEach((player) => {
  let id = "";
  try { id = JSON.parse(player.dataset.player).remember; } catch (err) { /* no data */ }
  const audio = player.querySelector("audio");
  if (!kept || typeof id !== "string" || !id || !audio) return;
  const key = STOPPED + id;
  let saved = -1;
  try {
    saved = Math.floor(Number(kept.getItem(key))) || -1;
    if (saved > 0) player.dataset.start = String(saved);
  } catch (err) { return; }
  const save = () => {
    try {
      if (audio.ended) {
        kept.removeItem(key);
        saved = -1;
        return;
      }
      // Not 0: the moment before a resumed audio has been moved to where it stopped.
      const t = Math.floor(audio.currentTime);
      if (t >= 1 && t !== saved) kept.setItem(key, String((saved = t)));
    } catch (err) { /* storage full or refused: it plays on */ }
  };
  ["timeupdate", "pause", "ended"].forEach((name) => audio.addEventListener(name, save));
});

// Subscribe options: a Copy button puts its feed URL (data-copy) on the clipboard.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => { button.textContent = "Copied"; });
});

// The transcript page: each part's cues follow its player (static/player.js), and a cue's
// time plays the audio from there, on this page. Without the script the time is a link
// that opens the player there.
document.querySelectorAll("section.transcript").forEach((section) => {
  const player = section.querySelector("[data-player]");
  const audio = player && player.querySelector("audio");
  const cues = Array.from(section.querySelectorAll("div.cues .cue[data-start]"));
  if (!audio || !cues.length) return;
  const starts = cues.map((cue) => Number(cue.dataset.start));
  let current = null;
  const follow = () => {
    let at = -1;
    for (let i = 0; i < starts.length && starts[i] <= audio.currentTime + 0.001; i++) at = i;
    const cue = cues[at] || null;
    if (cue === current) return;
    if (current) current.removeAttribute("aria-current");
    current = cue;
    if (!cue) return;
    cue.setAttribute("aria-current", "true");
    // Kept in view while it plays, unless the listener is reading elsewhere on purpose.
    if (!audio.paused && !section.querySelector("div.cues").contains(document.activeElement)) {
      cue.scrollIntoView({ block: "nearest" });
    }
  };
  ["timeupdate", "seeked"].forEach((name) => audio.addEventListener(name, follow));
  section.querySelector("div.cues").addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    const start = link && /#t=([0-9.]+)$/.exec(link.getAttribute("href"));
    if (!start || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    player.dispatchEvent(new CustomEvent("storyfeed:seek", { detail: Number(start[1]) }));
  });
});
