<?php
// What every entry script of this application shares: the vendored Workerman,
// GatewayWorker and GatewayClient, found in <repo>/test/peers/workerman or
// WSSD_WORKERMAN_DIR (a missing tree fails loudly, never silently), long options, and Workerman's run with its pid, log and status
// files in the process's own directory (runAll parses argv: it gets `start`).

/** WSSD_WORKERMAN_DIR, else <repo>/test/peers/workerman; exits 2 naming the path when it is not there. */
function peers_dir(): string
{
    $dir = getenv('WSSD_WORKERMAN_DIR') ?: dirname(__DIR__, 3) . '/peers/workerman';
    if (!is_file("$dir/autoload.php") || !is_file("$dir/vendor/gateway-client/Gateway.php")) {
        fwrite(STDERR, "the vendored Workerman/GatewayWorker tree is missing: expected $dir/autoload.php and $dir/vendor/gateway-client/ (test/peers/workerman, or WSSD_WORKERMAN_DIR)\n");
        exit(2);
    }
    return $dir;
}

/** getopt() with these long options, each required to have a value unless listed in $optional. */
function options(array $required, array $optional = []): array
{
    $spec = array_merge(array_map(fn ($o) => "$o:", $required), array_map(fn ($o) => "$o:", $optional));
    $given = getopt('', $spec);
    foreach ($required as $name) {
        if (!isset($given[$name]) || !is_string($given[$name])) {
            fwrite(STDERR, "missing --$name\n");
            exit(2);
        }
    }
    return $given;
}

/** Workerman's runAll, its files in $dir (named after $name), in the foreground. */
function run_workers(string $dir, string $name): void
{
    if (!is_dir($dir)) {
        fwrite(STDERR, "no directory $dir\n");
        exit(2);
    }
    \Workerman\Worker::$pidFile = "$dir/$name.pid";
    \Workerman\Worker::$logFile = "$dir/$name.log";
    \Workerman\Worker::$statusFile = "$dir/$name.status";
    \Workerman\Worker::$stdoutFile = "$dir/$name.stdout";
    $argv = [$name, 'start'];
    $GLOBALS['argv'] = $argv;
    $_SERVER['argv'] = $argv;
    \Workerman\Worker::runAll();
}
