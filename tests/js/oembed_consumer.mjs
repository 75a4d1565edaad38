// One npm oEmbed consumer, as an application calls it, on one URL; prints one JSON line:
// {"result": ...} or {"error": message, "status": HTTP status when the library says one}.
// Driven by tests/clients/test_oembed_consumers_real.py:
//   node oembed_consumer.mjs <unfurl|oembed-extractor|open-graph-scraper> <url> [providers.json URL]
// With a providers.json URL, oembed-extractor uses that registry (setProviderList) instead of
// discovery. Each library runs with its defaults: nothing here changes what it fetches.
import { unfurl } from "unfurl.js";
import { extract, findProvider, setProviderList } from "@extractus/oembed-extractor";
import ogs from "open-graph-scraper";

const [library, url, providers] = process.argv.slice(2);

async function consume() {
  if (library === "unfurl") {
    return await unfurl(url);
  }
  if (library === "oembed-extractor") {
    if (providers) {
      const response = await fetch(providers);
      setProviderList(await response.json());
      const provider = findProvider(url);
      const data = await extract(url);
      return { ...data, endpoint: provider && provider.endpoint };
    }
    return await extract(url);
  }
  if (library === "open-graph-scraper") {
    const { result } = await ogs({ url });
    return result;
  }
  throw new Error(`unknown library ${library}`);
}

try {
  console.log(JSON.stringify({ result: await consume() }));
} catch (error) {
  // unfurl.js says the status in `info.httpStatus`; open-graph-scraper rejects with
  // {error, result: {error: "404 Not Found"}, response}; oembed-extractor says it only in
  // its message ("Request failed with error code 401").
  const message = String(error.message ?? error.result?.error ?? error);
  const status = error.info?.httpStatus ?? error.response?.status ??
    Number(/(?:error code |^)(\d{3})\b/.exec(message)?.[1]);
  console.log(JSON.stringify({ error: message, status: status || null }));
}
