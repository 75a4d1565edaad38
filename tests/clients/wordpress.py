"""Debian's WordPress, served by `php -S` on a free 127.0.0.1 port, with a MariaDB
database of its own: a real WordPress for the player's embed tests.

Debian's /usr/share/wordpress/wp-config.php reads /etc/wordpress/config-<name>.php where
<name> is the server variable WORDPRESS_CONFIG, which Apache's `SetEnv` would set. `php -S`
puts no environment variable in $_SERVER (not even with variables_order=EGPCS): a file
PHP runs before each script (auto_prepend_file) sets it instead. The site's config, its
database and its mu-plugin are this run's own and removed at the end; WordPress itself is
left as Debian installed it. Writing the config needs write access to /etc/wordpress
(root, as CI runs).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from ..servers import free_port

WORDPRESS = Path("/usr/share/wordpress")
CONFIGS = Path("/etc/wordpress")
MARIADB = ("127.0.0.1", 3306)  # root, no password: the server this machine kind starts

# WordPress's oEmbed discovery refuses loopback hosts and ports other than 80, 443 and
# 8080 (wp_http_validate_url): storyfeed runs on 127.0.0.1 and a free port here.
MU_PLUGIN = """<?php
/* Tests only: let oEmbed discovery reach storyfeed on 127.0.0.1 and any port. */
add_filter( 'http_request_host_is_external', '__return_true' );
add_filter( 'http_request_args', function ( $args ) {
\t$args['reject_unsafe_urls'] = false;
\treturn $args;
} );
"""

CONFIG = """<?php
define( 'DB_NAME', {db_name} );
define( 'DB_USER', 'root' );
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', {db_host} );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
define( 'WP_HOME', {home} );
define( 'WP_SITEURL', {home} );
{salts}
$table_prefix = 'wp_';
/* The themes and plugins Debian ships, under the document root `php -S` serves. */
define( 'WP_CONTENT_DIR', '/usr/share/wordpress/wp-content' );
define( 'WPMU_PLUGIN_DIR', {mu_plugins} );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_ALLOW_MULTISITE', false );
define( 'WP_DEBUG', false );
"""

# Run by php-cli with the site's config: install WordPress, publish the posts given as
# JSON on stdin, print their permalinks as JSON.
INSTALL = r"""<?php
define( 'WP_INSTALLING', true );
$_SERVER['HTTP_HOST'] = getenv( 'WP_TEST_HOST' );
$_SERVER['WORDPRESS_CONFIG'] = getenv( 'WORDPRESS_CONFIG' );
$_SERVER['REQUEST_URI'] = '/';
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$installed = wp_install( 'storyfeed test blog', 'admin', 'admin@example.org', true, '', wp_generate_password( 24 ) );
update_option( 'permalink_structure', '' );
$posts = json_decode( stream_get_contents( STDIN ), true );
$links = array();
foreach ( $posts as $post ) {
	$id = wp_insert_post( array(
		'post_title'   => $post['title'],
		'post_content' => $post['content'],
		'post_status'  => 'publish',
		'post_author'  => $installed['user_id'],
	), true );
	if ( is_wp_error( $id ) ) {
		fwrite( STDERR, $id->get_error_message() );
		exit( 1 );
	}
	$links[ $post['name'] ] = get_permalink( $id );
}
echo json_encode( $links );
"""


def _php(code: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["php", "-r", code, *args], input=stdin, capture_output=True, text=True,
                          timeout=120, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"php failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


def _sql(statement: str) -> None:
    """One statement on the MariaDB server, through PHP's mysqli (php-mysql, which
    WordPress needs anyway)."""
    _php("$db = new mysqli($argv[1], 'root', '', '', (int) $argv[2]); $db->query($argv[3]) or exit(1);",
         MARIADB[0], str(MARIADB[1]), statement)


def installed() -> bool:
    """Debian's WordPress, php-cli and php-mysql (WordPress reaches MariaDB through mysqli)."""
    if shutil.which("php") is None or not (WORDPRESS / "wp-load.php").exists():
        return False
    return subprocess.run(["php", "-r", "exit(extension_loaded('mysqli') ? 0 : 1);"], timeout=30).returncode == 0


def php_version() -> str:
    return _php("echo PHP_VERSION;")


def wordpress_version() -> str:
    return _php("require $argv[1]; echo $wp_version;", str(WORDPRESS / "wp-includes/version.php"))


class WordPress:
    """A WordPress site on http://127.0.0.1:<port>/ with `posts` ({name: (title, content)})
    published; `links` maps each name to the post's permalink once started."""

    def __init__(self, posts: dict[str, tuple[str, str]]):
        token = secrets.token_hex(5)
        self.name = f"storyfeedtest{token}"  # the config's name: letters and digits only
        self.database = f"storyfeed_wp_{token}"
        self.config = CONFIGS / f"config-{self.name}.php"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.posts = posts
        self.links: dict[str, str] = {}
        self.dir = Path(tempfile.mkdtemp(prefix="storyfeed-wp-"))
        self.log = self.dir / "php-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        return {**os.environ, "WORDPRESS_CONFIG": self.name, "WP_TEST_HOST": f"127.0.0.1:{self.port}"}

    def start(self) -> WordPress:
        mu_plugins = self.dir / "mu-plugins"
        mu_plugins.mkdir()
        (mu_plugins / "storyfeed-test-loopback.php").write_text(MU_PLUGIN)
        salts = "\n".join(f"define( '{key}', '{secrets.token_hex(32)}' );" for key in (
            "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
            "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
        self.config.write_text(CONFIG.format(
            db_name=json.dumps(self.database), db_host=json.dumps(f"{MARIADB[0]}:{MARIADB[1]}"),
            home=json.dumps(self.base.rstrip("/")), salts=salts, mu_plugins=json.dumps(str(mu_plugins))))
        _sql(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4")
        script = self.dir / "install.php"
        script.write_text(INSTALL)
        posts = [{"name": name, "title": title, "content": content}
                 for name, (title, content) in self.posts.items()]
        done = subprocess.run(["php", str(script)], input=json.dumps(posts), capture_output=True,
                              text=True, timeout=120, env=self._env())
        if done.returncode != 0:
            raise RuntimeError(f"installing WordPress failed: {done.stdout}{done.stderr}")
        self.links = json.loads(done.stdout[done.stdout.index("{"):])
        # Several workers: the browser asks for a post and its scripts and styles at once,
        # while WordPress, rendering the post, waits on storyfeed's oEmbed answer.
        prepend = self.dir / "server-variables.php"
        prepend.write_text(f"<?php $_SERVER['WORDPRESS_CONFIG'] = '{self.name}';\n")
        self.process = subprocess.Popen(
            ["php", "-d", f"auto_prepend_file={prepend}", "-S", f"127.0.0.1:{self.port}", "-t", str(WORDPRESS)],
            env={**self._env(), "PHP_CLI_SERVER_WORKERS": "4"}, cwd=self.dir,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            # A group of its own: the workers outlive a signal to `php -S` alone.
            start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.base, timeout=10).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"php -S did not serve WordPress:\n{self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            self.process = None
        self.config.unlink(missing_ok=True)
        try:
            _sql(f"DROP DATABASE IF EXISTS `{self.database}`")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> WordPress:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
