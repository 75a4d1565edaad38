// Reads a podcast feed from a URL with podcast-partytime (as Podcast Index apps parse
// feeds) and prints what it made of it as JSON: tests/clients/test_podcast_apps.py.
"use strict";
const { parseFeed } = require("podcast-partytime");

(async () => {
  const response = await fetch(process.argv[2]);
  const feed = parseFeed(await response.text());
  process.stdout.write(JSON.stringify(feed, (_key, value) => (value instanceof Date ? value.toISOString() : value)));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
