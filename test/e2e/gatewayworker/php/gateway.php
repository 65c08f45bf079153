<?php
// php gateway.php --dir DIR --listen 127.0.0.1:PORT --lan-port PORT --register HOST:PORT [--secret KEY]
//                 [--ping-interval SECONDS --ping-limit N --ping-data TEXT]
// GatewayWorker's own Gateway (the reference wssd is compared with): clients on
// websocket://127.0.0.1:PORT, BusinessWorkers on 127.0.0.1:LAN_PORT (lanIp,
// startPort); its client heartbeat off unless --ping-interval.
require __DIR__ . '/bootstrap.php';
require peers_dir() . '/autoload.php';

$o = options(['dir', 'listen', 'lan-port', 'register'], ['secret', 'ping-interval', 'ping-limit', 'ping-data']);
$gateway = new GatewayWorker\Gateway("websocket://{$o['listen']}");
$gateway->name = 'gateway';
$gateway->count = 1;
$gateway->lanIp = '127.0.0.1';
$gateway->startPort = (int)$o['lan-port'];
$gateway->registerAddress = $o['register'];
$gateway->secretKey = $o['secret'] ?? '';
$gateway->pingInterval = (float)($o['ping-interval'] ?? 0);
$gateway->pingNotResponseLimit = (int)($o['ping-limit'] ?? 0);
$gateway->pingData = $o['ping-data'] ?? '';
run_workers($o['dir'], 'gateway');
