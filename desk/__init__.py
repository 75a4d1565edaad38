"""The editors' desk, what it keeps and works out without HTTP: editor accounts and the
login throttle, background jobs, the stored results of `feeds check`, story search, and
charts drawn as SVG. The desk's pages are `web.desk`; its commands `web.cli.desk`."""
