/* storyfeed's embeddable player. Plain script, no framework. It runs inside
   sandbox="allow-scripts" frames, so it uses no cookies, no storage and no popups, and
   it posts nothing to its parent. */
(function () {
  "use strict";
  var root = document.getElementById("player");
  if (!root) return;
  var audio = root.querySelector(".media");
  var controls = root.querySelector(".controls");
  var play = root.querySelector(".play");
  var seek = root.querySelector(".seek");
  var elapsed = root.querySelector(".elapsed");
  var total = root.querySelector(".total");
  var speed = root.querySelector(".speed");
  var status = root.querySelector(".status");
  var SPEEDS = [1, 1.25, 1.5, 2, 0.75];
  var STEP = 5;
  var BIG_STEP = 30;
  var known = parseFloat(root.getAttribute("data-duration")) || 0;
  // Before the first play (preload="none") the element has no position to seek; keep it here.
  var startAt = 0;

  audio.controls = false;
  controls.hidden = false;
  root.classList.add("js");

  function clock(s) {
    s = Math.max(0, Math.floor(s || 0));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    var mm = h ? (m < 10 ? "0" : "") + m : String(m);
    return (h ? h + ":" : "") + mm + ":" + (sec < 10 ? "0" : "") + sec;
  }

  function unit(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function spoken(s) {
    s = Math.max(0, Math.floor(s || 0));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60, parts = [];
    if (h) parts.push(unit(h, "hour"));
    if (m) parts.push(unit(m, "minute"));
    if (sec || !parts.length) parts.push(unit(sec, "second"));
    return parts.join(" ");
  }

  function duration() {
    return isFinite(audio.duration) && audio.duration > 0 ? audio.duration : known;
  }

  function position() { return audio.readyState ? audio.currentTime : startAt; }

  function render() {
    var d = duration(), t = position();
    elapsed.textContent = clock(t);
    total.textContent = clock(d);
    seek.max = String(Math.max(d, 0));
    seek.value = String(t);
    seek.setAttribute("aria-valuetext", spoken(t) + (d ? " of " + spoken(d) : ""));
    play.setAttribute("aria-label", audio.paused ? "Play" : "Pause");
    root.classList.toggle("playing", !audio.paused);
  }

  function fail() {
    status.textContent = "This audio cannot be played here.";
    render();
  }

  function toggle() {
    if (audio.paused) {
      status.textContent = "";
      var started = audio.play();
      if (started && started.catch) started.catch(function (err) {
        if (err && err.name !== "AbortError") fail();
      });
    } else {
      audio.pause();
    }
  }

  function seekTo(t) {
    var d = duration();
    t = Math.max(0, d ? Math.min(t, d) : t);
    if (audio.readyState) audio.currentTime = t; else startAt = t;
    render();
  }

  function cycleSpeed() {
    var next = SPEEDS[(SPEEDS.indexOf(audio.playbackRate) + 1) % SPEEDS.length];
    // A load (the first play) resets playbackRate to defaultPlaybackRate: set both.
    audio.defaultPlaybackRate = next;
    audio.playbackRate = next;
    speed.textContent = next + "\u00d7";
    speed.setAttribute("aria-label", "Playback speed " + next + "x");
  }

  // #t=SECONDS (a media fragment, as on the audio element itself) starts there.
  var fragment = /(?:^#|&)t=([0-9]+(?:\.[0-9]+)?)/.exec(location.hash);
  if (fragment) startAt = parseFloat(fragment[1]);

  play.addEventListener("click", toggle);
  speed.addEventListener("click", cycleSpeed);
  seek.addEventListener("input", function () { seekTo(parseFloat(seek.value)); });
  audio.addEventListener("loadedmetadata", function () {
    if (startAt) {
      audio.currentTime = Math.min(startAt, duration() || startAt);
      startAt = 0;
    }
    render();
  });
  ["play", "pause", "timeupdate", "durationchange", "ended", "seeked"].forEach(function (name) {
    audio.addEventListener(name, render);
  });
  audio.addEventListener("error", fail);

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var tag = event.target && event.target.tagName;
    switch (event.key) {
      case " ":
      case "Spacebar":
        if (tag === "BUTTON" || tag === "A") return; // they activate themselves on Space
        toggle();
        break;
      case "ArrowRight": case "ArrowUp": seekTo(position() + STEP); break;
      case "ArrowLeft": case "ArrowDown": seekTo(position() - STEP); break;
      case "PageUp": seekTo(position() + BIG_STEP); break;
      case "PageDown": seekTo(position() - BIG_STEP); break;
      case "Home": seekTo(0); break;
      case "End": seekTo(duration()); break;
      default: return;
    }
    event.preventDefault();
  });

  render();
})();
