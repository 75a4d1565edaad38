/* storyfeed's player. Plain script, no framework. One script for the embeddable player's
   page (html.frame) and for the players inline on storyfeed's own pages: it mounts on
   every element with a data-player attribute, its data (the CSP allows no inline script).
   It runs inside sandbox="allow-scripts" frames, so it uses no cookies, no storage and no
   popups; inside WordPress (a `#?secret=` in the URL) it speaks WordPress's embed
   messages to the parent, the only thing it ever posts. On a page one player plays at a
   time, and a player starts where its data-start says (pages.js keeps where a listener
   stopped). */
(function () {
  "use strict";
  var framed = document.documentElement.classList.contains("frame");
  var roots = Array.prototype.slice.call(document.querySelectorAll("[data-player]"));

  // #t=90, #t=1:30 (a media fragment, as on the audio element itself) starts the page's
  // first player there.
  var fragment = /[#&?]t=(?:npt:)?((?:[0-9]+:){0,2}[0-9]+(?:\.[0-9]+)?)(?![0-9.:])/.exec(location.hash);

  function seconds(stamp) {
    return stamp.replace(",", ".").split(":").reduce(function (sum, part) {
      return sum * 60 + parseFloat(part);
    }, 0);
  }

  roots.forEach(mount);

  function mount(root, rootIndex) {
    var data = {};
    try {
      data = JSON.parse(root.getAttribute("data-player")) || {};
    } catch (err) { /* no data: a plain player */ }

    function $(selector) { return root.querySelector(selector); }
    function $$(selector) { return Array.prototype.slice.call(root.querySelectorAll(selector)); }

    var audio = $(".media");
    var controls = $(".controls");
    var play = $(".play");
    var seek = $(".seek");
    var elapsed = $(".elapsed");
    var total = $(".total");
    var speed = $(".speed");
    var status = $(".status");
    var announcer = $(".announce");
    var chapterLabel = $(".chapter");
    var marks = $(".marks");
    var prevButton = $(".prev-chapter");
    var nextButton = $(".next-chapter");
    var chapterList = $(".chapter-list");
    var cueList = $(".cues");
    var find = $(".find");
    var found = $(".found");
    var toggles = $$(".toggle");
    var SPEEDS = [1, 1.25, 1.5, 2, 0.75];
    var STEP = 5;
    var BIG_STEP = 30;
    var SESSION_STEP = 10;
    // "Previous chapter" this far into a chapter goes back to its start, as CD players do.
    var RESTART_GRACE = 3;
    var known = Number(data.duration) || 0;
    // Before the first play (preload="none") the element has no position to seek; keep it here.
    var startAt = 0;
    var chapters = [];
    var cues = [];
    var currentChapter = -2;
    var currentCue = -2;

    audio.controls = false;
    controls.hidden = false;
    $(".toggles").hidden = false;
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

    function announce(text) { announcer.textContent = text; }

    // The last item starting at or before t (-1 before the first).
    function indexAt(items, t) {
      var found = -1;
      for (var i = 0; i < items.length && items[i].start <= t + 0.001; i++) found = i;
      return found;
    }

    function markCurrent(list, index, follow) {
      var items = list.children;
      for (var i = 0; i < items.length; i++) {
        var button = items[i].firstChild;
        if (i === index) button.setAttribute("aria-current", "true");
        else button.removeAttribute("aria-current");
      }
      var current = items[index] && items[index].firstChild;
      if (!current || list.contains(document.activeElement)) return;
      rove(list, current);
      if (follow && !list.closest(".panel").hidden) {
        // Scrolls the list itself: scrollIntoView could scroll the page around the frame.
        var top = current.offsetTop, bottom = top + current.offsetHeight;
        if (top < list.scrollTop || bottom > list.scrollTop + list.clientHeight) {
          list.scrollTop = top - list.clientHeight / 3;
        }
      }
    }

    function render() {
      var d = duration(), t = position();
      var index = indexAt(chapters, t);
      var chapter = chapters[index];
      elapsed.textContent = clock(t);
      total.textContent = clock(d);
      seek.max = String(Math.max(d, 0));
      seek.value = String(t);
      seek.setAttribute("aria-valuetext", spoken(t) + (d ? " of " + spoken(d) : "") +
        (chapter ? ", " + chapter.title : ""));
      play.setAttribute("aria-label", audio.paused ? "Play" : "Pause");
      root.classList.toggle("playing", !audio.paused);
      if (index !== currentChapter) {
        currentChapter = index;
        chapterLabel.textContent = chapter ? chapter.title : "";
        chapterLabel.hidden = !chapter;
        chapterLabel.parentNode.hidden = !chapter && !chapterLabel.previousSibling; // no byline
        markCurrent(chapterList, index, true);
      }
      var cue = indexAt(cues, t);
      if (cue >= 0 && cues[cue].end && t > cues[cue].end && (!cues[cue + 1] || t < cues[cue + 1].start)) {
        cue = -1; // a pause between two cues
      }
      if (cue !== currentCue) {
        currentCue = cue;
        markCurrent(cueList, cue, !find.value);
      }
      sessionPosition();
    }

    function fail() {
      status.textContent = "This audio cannot be played here.";
      render();
    }

    function start() {
      status.textContent = "";
      var started = audio.play();
      if (started && started.catch) started.catch(function (err) {
        if (err && err.name !== "AbortError") fail();
      });
    }

    function toggle() {
      if (audio.paused) start(); else audio.pause();
    }

    function seekTo(t) {
      var d = duration();
      t = Math.max(0, d ? Math.min(t, d) : t);
      if (audio.readyState) seekNow(t); else startAt = t;
      render();
    }

    // A seek the element takes now replaces the start time still waiting for the metadata:
    // the element has it a moment before the player hears (loadedmetadata is queued), and
    // a seek in between was undone by the start time.
    function seekNow(t, fast) {
      startAt = 0;
      if (fast) audio.fastSeek(t); else audio.currentTime = t;
    }

    function cycleSpeed() {
      var next = SPEEDS[(SPEEDS.indexOf(audio.playbackRate) + 1) % SPEEDS.length];
      // A load (the first play) resets playbackRate to defaultPlaybackRate: set both.
      audio.defaultPlaybackRate = next;
      audio.playbackRate = next;
      speed.textContent = next + "x"; // as the label says it, which axe wants
      speed.setAttribute("aria-label", "Playback speed " + next + "x");
    }

    // -- chapters -------------------------------------------------------------------------

    function goToChapter(index) {
      var chapter = chapters[index];
      if (!chapter) return;
      seekTo(chapter.start);
      announce("Chapter " + (index + 1) + " of " + chapters.length + ": " + chapter.title);
    }

    function nextChapter() {
      if (chapters.length) goToChapter(Math.min(indexAt(chapters, position()) + 1, chapters.length - 1));
    }

    function previousChapter() {
      if (!chapters.length) return;
      var t = position(), index = indexAt(chapters, t);
      if (index > 0 && t - chapters[index].start < RESTART_GRACE) index -= 1;
      goToChapter(Math.max(index, 0));
    }

    function placeMarks() {
      var d = duration();
      marks.textContent = "";
      chapters.forEach(function (chapter) {
        if (!d || chapter.start <= 0 || chapter.start >= d) return;
        var mark = document.createElement("span");
        mark.style.left = (100 * chapter.start / d) + "%"; // CSSOM, which the CSP allows
        marks.appendChild(mark);
      });
    }

    function listItem(list, item, index, text) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      var at = document.createElement("span");
      var body = document.createElement("span");
      button.type = "button";
      button.tabIndex = -1;
      button.setAttribute("data-index", String(index));
      at.className = "at";
      at.textContent = clock(item.start);
      body.className = "text";
      body.textContent = text;
      button.appendChild(at);
      button.appendChild(body);
      li.appendChild(button);
      list.appendChild(li);
      return button;
    }

    // Podcast Index JSON chapters, inline or fetched: the table of contents (toc not false).
    function useChapters(list) {
      var shown = (Array.isArray(list) ? list : []).filter(function (c) {
        return c && c.toc !== false && isFinite(c.startTime);
      });
      chapters = shown.map(function (c, i) {
        var title = typeof c.title === "string" && c.title.trim() ? c.title.trim() : "Chapter " + (i + 1);
        return { start: Number(c.startTime), title: title };
      });
      chapterList.textContent = "";
      chapters.forEach(function (chapter, i) { listItem(chapterList, chapter, i, chapter.title); });
      var any = chapters.length > 0;
      prevButton.hidden = nextButton.hidden = !any;
      toggleFor("chapters").hidden = !any;
      if (any) rove(chapterList, chapterList.querySelector("button"));
      currentChapter = -2;
      placeMarks();
      sessionMetadata();
      sessionChapterActions();
      render();
    }

    function fetchText(url) {
      return fetch(url, { credentials: "omit" }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      });
    }

    // -- transcript -----------------------------------------------------------------------

    var TIMING = /((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})[ \t]+-->[ \t]+((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})/;
    var ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&nbsp;": "\u00a0", "&lrm;": "", "&rlm;": "" };

    // WebVTT and SubRip cues: timing line, then text; ids, the header and NOTE blocks skipped.
    function parseCues(text) {
      var out = [];
      text.replace(/\r\n?/g, "\n").split(/\n{2,}/).forEach(function (block) {
        var lines = block.split("\n"), i = 0;
        while (i < lines.length && !TIMING.test(lines[i])) i++;
        if (i === lines.length) return;
        var timing = TIMING.exec(lines[i]);
        var raw = lines.slice(i + 1).join(" ");
        var voice = /<v(?:\.[^\s>]*)?\s+([^>]+)>/.exec(raw);
        var body = raw.replace(/<[^>]*>/g, "").replace(/&[a-z]+;/g, function (entity) {
          return entity in ENTITIES ? ENTITIES[entity] : entity;
        }).replace(/\s+/g, " ").trim();
        if (body) out.push({ start: seconds(timing[1]), end: seconds(timing[2]),
                             text: voice ? voice[1].trim() + ": " + body : body });
      });
      return out.sort(function (a, b) { return a.start - b.start; });
    }

    var transcriptState = "idle";

    function loadTranscript() {
      if (transcriptState !== "idle") return;
      transcriptState = "loading";
      found.textContent = "Loading\u2026";
      fetchText(data.transcriptUrl).then(function (text) {
        cues = parseCues(text);
        cues.forEach(function (cue, i) { listItem(cueList, cue, i, cue.text); });
        transcriptState = "ready";
        found.textContent = "";
        rove(cueList, cueList.querySelector("button"));
        currentCue = -2;
        render();
        search();
      }, function () {
        transcriptState = "failed";
        found.textContent = "The transcript could not be loaded.";
      });
    }

    function highlight(span, text, query) {
      span.textContent = "";
      var lower = text.toLowerCase(), from = 0, at;
      while (query && (at = lower.indexOf(query, from)) >= 0) {
        span.appendChild(document.createTextNode(text.slice(from, at)));
        var mark = document.createElement("mark");
        mark.textContent = text.slice(at, at + query.length);
        span.appendChild(mark);
        from = at + query.length;
      }
      span.appendChild(document.createTextNode(text.slice(from)));
    }

    // Shows the cues that contain the query, marked; the count goes to the status beside it.
    function search() {
      if (transcriptState !== "ready") return;
      var query = find.value.trim().toLowerCase(), count = 0, first = null;
      Array.prototype.forEach.call(cueList.children, function (li, i) {
        var match = !query || cues[i].text.toLowerCase().indexOf(query) >= 0;
        li.hidden = !match;
        highlight(li.querySelector(".text"), cues[i].text, match ? query : "");
        if (match && query) {
          count++;
          first = first || li.firstChild;
        }
      });
      found.textContent = !query ? "" : count ? count + (count === 1 ? " match" : " matches") : "No match";
      rove(cueList, first || cueList.querySelector("li:not([hidden]) > button"));
    }

    // -- lists: one tab stop each; the arrow keys, Home and End move within ----------------

    function rove(list, button) {
      if (!button) return;
      Array.prototype.forEach.call(list.querySelectorAll("button"), function (b) {
        b.tabIndex = b === button ? 0 : -1;
      });
    }

    function listKeys(event) {
      var list = event.currentTarget;
      var buttons = Array.prototype.slice.call(list.querySelectorAll("li:not([hidden]) > button"));
      var at = buttons.indexOf(document.activeElement), next;
      if (at < 0 || event.altKey || event.ctrlKey || event.metaKey) return;
      switch (event.key) {
        case "ArrowDown": next = buttons[Math.min(at + 1, buttons.length - 1)]; break;
        case "ArrowUp": next = buttons[Math.max(at - 1, 0)]; break;
        case "Home": next = buttons[0]; break;
        case "End": next = buttons[buttons.length - 1]; break;
        default: return;
      }
      event.preventDefault();
      rove(list, next);
      next.focus();
    }

    function listClicks(items) {
      return function (event) {
        var button = event.target.closest("button[data-index]");
        if (!button) return;
        var index = Number(button.getAttribute("data-index"));
        rove(event.currentTarget, button);
        if (items() === chapters) goToChapter(index); else seekTo(items()[index].start);
        if (audio.paused) start();
      };
    }

    [chapterList, cueList].forEach(function (list) { list.addEventListener("keydown", listKeys); });
    chapterList.addEventListener("click", listClicks(function () { return chapters; }));
    cueList.addEventListener("click", listClicks(function () { return cues; }));

    // -- panels: chapters, transcript, share (one open at a time) --------------------------

    function toggleFor(name) {
      return toggles.filter(function (t) { return t.getAttribute("data-panel") === name; })[0];
    }

    function openPanel(name) {
      toggles.forEach(function (t) {
        var mine = t.getAttribute("data-panel") === name;
        t.setAttribute("aria-expanded", mine ? "true" : "false");
        document.getElementById(t.getAttribute("aria-controls")).hidden = !mine;
      });
      root.classList.toggle("open", !!name);
      if (name === "transcript") loadTranscript();
      if (name === "share") shareAt();
      currentChapter = currentCue = -2; // re-marked, and the current item scrolled to
      render();
    }

    toggles.forEach(function (t) {
      t.addEventListener("click", function () {
        openPanel(t.getAttribute("aria-expanded") === "true" ? null : t.getAttribute("data-panel"));
      });
    });
    toggleFor("transcript").hidden = !data.transcriptUrl;

    find.addEventListener("input", search);
    find.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        var first = cueList.querySelector("li:not([hidden]) > button");
        if (first) first.focus();
        event.preventDefault();
      } else if (event.key === "Escape" && find.value) {
        find.value = "";
        search();
        event.preventDefault();
      }
    });

    // -- share ----------------------------------------------------------------------------

    var shareLink = $(".share-link");
    var shareEmbed = $(".share-embed");

    function shareAt() {
      var t = Math.floor(position());
      shareLink.value = (data.shareUrl || "") + (t >= 1 ? "#t=" + t : "");
      $(".share-time").textContent = clock(t);
      if (shareEmbed) shareEmbed.value = data.embedCode || "";
    }

    // The Clipboard API where the frame may use it; else the selected text and the old
    // copy command, which sandboxed frames without clipboard-write still allow.
    function copy(field, what) {
      function copied() { announce(what + " copied"); status.textContent = what + " copied."; }
      function fallback() {
        field.focus();
        field.select();
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
        if (ok) copied(); else status.textContent = "Press Ctrl+C (\u2318C) to copy the selected " + what.toLowerCase() + ".";
      }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(copied, fallback);
      } else {
        fallback();
      }
    }

    $$(".copy").forEach(function (button) {
      button.addEventListener("click", function () {
        shareAt();
        var field = document.getElementById(button.getAttribute("data-field"));
        copy(field, field === shareLink ? "Link" : "Embed code");
      });
    });

    // -- Media Session: lock screens, notifications, hardware keys --------------------------

    var session = navigator.mediaSession;

    function sessionMetadata() {
      if (!session || (!framed && audio.paused) || !window.MediaMetadata || !data.session) return;
      var info = data.session;
      var fields = { title: info.title || "", artist: info.artist || "", album: info.album || "",
                     artwork: info.artwork || [] };
      fields.chapterInfo = chapters.map(function (c) { return { title: c.title, startTime: c.start }; });
      try { session.metadata = new MediaMetadata(fields); } catch (err) { /* an older browser */ }
    }

    function setAction(name, handler) {
      try { session.setActionHandler(name, handler); } catch (err) { /* not supported here */ }
    }

    function sessionChapterActions() {
      if (!session || (!framed && audio.paused)) return;
      setAction("previoustrack", chapters.length ? previousChapter : null);
      setAction("nexttrack", chapters.length ? nextChapter : null);
    }

    function sessionPosition() {
      var d = duration();
      if (!session || !session.setPositionState || !d || (!framed && audio.paused)) return;
      try {
        session.setPositionState({ duration: d, playbackRate: audio.playbackRate || 1,
                                   position: Math.min(position(), d) });
      } catch (err) { /* a duration the browser does not accept yet */ }
    }

    // A page's players share one session: the one that plays last holds it.
    function claimSession() {
      if (!session) return;
      sessionMetadata();
      sessionChapterActions();
      setAction("play", start);
      setAction("pause", function () { audio.pause(); });
      setAction("seekbackward", function (d) { seekTo(position() - ((d && d.seekOffset) || SESSION_STEP)); });
      setAction("seekforward", function (d) { seekTo(position() + ((d && d.seekOffset) || SESSION_STEP)); });
      setAction("seekto", function (d) {
        if (!d || !isFinite(d.seekTime)) return;
        if (d.fastSeek && audio.fastSeek && audio.readyState) seekNow(d.seekTime, true);
        else seekTo(d.seekTime);
      });
    }
    if (framed) claimSession();
    audio.addEventListener("play", function () {
      if (!framed) claimSession();
      // One at a time: the page's other players (and any other audio) pause.
      Array.prototype.forEach.call(document.querySelectorAll("audio, video"), function (other) {
        if (other !== audio && !other.paused) other.pause();
      });
    });

    // -- inside WordPress: its embed messages (wp-embed-template.js's half of them) ---------

    var secret = framed && (/[#&?]secret=([A-Za-z0-9]+)/.exec(location.hash) || [])[1];
    if (secret && window.parent !== window) {
      // WordPress sandboxes the frame with allow-scripts only: links cannot open, so the
      // page asks its parent (wp-embed.js) to go there, and to fit the frame to the player.
      var tell = function (message, value) {
        window.parent.postMessage({ message: message, value: value, secret: secret }, "*");
      };
      var sentHeight = 0;
      var sendHeight = function () {
        var height = Math.ceil(document.body.getBoundingClientRect().height);
        if (height !== sentHeight) tell("height", (sentHeight = height));
      };
      document.documentElement.classList.add("fits");
      root.addEventListener("click", function (event) {
        var link = event.target.closest("a[href]");
        if (!link) return;
        event.preventDefault();
        tell("link", link.href);
      });
      if (window.ResizeObserver) new ResizeObserver(sendHeight).observe(document.body);
      window.addEventListener("resize", sendHeight);
      // WordPress keeps the frame hidden until its first message, and wp-embed.js may start
      // after the player sent its height (it loads in the footer): the height goes again once
      // everything has loaded, and whenever wp-embed.js says "ready" (versions that do).
      var sendAgain = function () { sentHeight = 0; sendHeight(); };
      window.addEventListener("load", sendAgain);
      // WordPress 6.1's wp-embed.js says no "ready", and a frame that loads before it runs
      // (it comes last in the page) spoke to nobody: the height goes again a few times in
      // the first seconds, which costs nothing once heard (the same height is ignored).
      [500, 1500, 3000, 6000].forEach(function (ms) { setTimeout(sendAgain, ms); });
      window.addEventListener("message", function (event) {
        var d = event.data;
        if (event.source !== window.parent || !d || d.message !== "ready" || d.secret !== secret) return;
        sendAgain();
      });
      sendHeight();
    }

    // -- wiring ---------------------------------------------------------------------------

    if (fragment && rootIndex === 0) {
      startAt = seconds(fragment[1]);
    } else if (!framed) {
      startAt = Math.max(0, Number(root.getAttribute("data-start")) || 0);
    }
    // The page's own script (pages.js: a transcript's times) asks this player to play from t.
    root.addEventListener("storyfeed:seek", function (event) {
      seekTo(Number(event.detail) || 0);
      if (audio.paused) start();
    });

    play.addEventListener("click", toggle);
    speed.addEventListener("click", cycleSpeed);
    prevButton.addEventListener("click", previousChapter);
    nextButton.addEventListener("click", nextChapter);
    seek.addEventListener("input", function () { seekTo(parseFloat(seek.value)); });
    audio.addEventListener("loadedmetadata", function () {
      if (startAt) {
        audio.currentTime = Math.min(startAt, duration() || startAt);
        startAt = 0;
      }
      render();
    });
    audio.addEventListener("durationchange", placeMarks);
    ["play", "pause", "timeupdate", "durationchange", "ended", "seeked", "ratechange"].forEach(function (name) {
      audio.addEventListener(name, render);
    });
    // With <source> children the element reports nothing; the last source's error means
    // that none could be played.
    var sources = audio.querySelectorAll("source");
    (sources.length ? sources[sources.length - 1] : audio).addEventListener("error", fail);
    audio.addEventListener("error", fail);

    // In the frame every key is the player's; on a page, those pressed within the player.
    (framed ? document : root).addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      var target = event.target, tag = target && target.tagName;
      if (event.key === "Escape" && root.classList.contains("open")) {
        var open = toggles.filter(function (t) { return t.getAttribute("aria-expanded") === "true"; })[0];
        openPanel(null);
        if (open) open.focus();
        event.preventDefault();
        return;
      }
      if (tag === "TEXTAREA" || (tag === "INPUT" && target.type !== "range")) return; // typing
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
        case "n": case "N": case "MediaTrackNext": nextChapter(); break;
        case "p": case "P": case "MediaTrackPrevious": previousChapter(); break;
        default: return;
      }
      event.preventDefault();
    });

    shareAt();
    useChapters(data.chapters);
    if (data.chaptersUrl && !chapters.length) {
      fetchText(data.chaptersUrl).then(function (text) {
        useChapters((JSON.parse(text) || {}).chapters);
      }).catch(function () { /* no chapters: the player works without them */ });
    }
  }
})();
