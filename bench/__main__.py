"""`make bench`: every benchmark, one after the other."""

import importlib

for name in ("store", "feeds", "oembed", "sources", "scale"):
    print(f"== bench.{name}")
    importlib.import_module(f"bench.{name}").main()
