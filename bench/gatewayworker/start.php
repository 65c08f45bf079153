<?php
// The PHP side of bench case `gatewayworker`, as GatewayWorker's docs start
// one, each part in a Workerman process tree of its own so the bench can
// start and stop a Gateway while the Register and the BusinessWorkers stay:
//   php start.php business REGISTER_PORT [WORKERS]    a Register and WORKERS BusinessWorkers (Events.php)
//   php start.php gateway REGISTER_PORT PORT LAN_PORT [--accelerate]
//                                                    a websocket Gateway (count 1) on 127.0.0.1:PORT,
//                                                    its LAN port LAN_PORT; --accelerate: protocolAccelerate
// Everything on 127.0.0.1, no secret key, no heartbeat. Logs, pid and status
// files in the temporary directory. Stop a tree with SIGINT to its master.
// WORKERMAN_DIR: the vendored Workerman + GatewayWorker with their autoload.php.
require (getenv('WORKERMAN_DIR') ?: __DIR__ . '/../../test/peers/workerman') . '/autoload.php';
require __DIR__ . '/Events.php';
use Workerman\Worker;
use GatewayWorker\Register;
use GatewayWorker\Gateway;
use GatewayWorker\BusinessWorker;

$role = $argv[1] ?? '';
$reg = (int)($argv[2] ?? 0);
if ($role === 'business') {
    new Register("text://127.0.0.1:$reg");
    $bw = new BusinessWorker();
    $bw->name = 'business';
    $bw->count = (int)($argv[3] ?? 1);
    $bw->registerAddress = "127.0.0.1:$reg";
    $bw->eventHandler = 'Events';
    $tag = "business-$reg";
} elseif ($role === 'gateway') {
    $port = (int)$argv[3];
    $gateway = new Gateway("websocket://127.0.0.1:$port");
    $gateway->name = 'gateway';
    $gateway->count = 1;
    $gateway->lanIp = '127.0.0.1';
    $gateway->startPort = (int)$argv[4];
    $gateway->registerAddress = "127.0.0.1:$reg";
    $gateway->pingInterval = 0;
    $gateway->protocolAccelerate = in_array('--accelerate', $argv, true);
    $tag = "gateway-$port";
} else {
    fwrite(STDERR, "usage: php start.php business REGISTER_PORT [WORKERS] | gateway REGISTER_PORT PORT LAN_PORT [--accelerate]\n");
    exit(2);
}
$tmp = sys_get_temp_dir() . "/wssd-bench-gw-$tag";
Worker::$logFile = "$tmp.log";
Worker::$pidFile = "$tmp.pid";
Worker::$statusFile = "$tmp.status";
$argv = ['start.php', 'start']; $GLOBALS['argv'] = $argv; $_SERVER['argv'] = $argv;
Worker::runAll();
