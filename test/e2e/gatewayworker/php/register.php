<?php
// php register.php --dir DIR --listen 127.0.0.1:PORT [--secret KEY]
// A GatewayWorker Register alone.
require __DIR__ . '/bootstrap.php';
require peers_dir() . '/autoload.php';

$o = options(['dir', 'listen'], ['secret']);
$register = new GatewayWorker\Register("text://{$o['listen']}");
$register->name = 'register';
$register->secretKey = $o['secret'] ?? '';
run_workers($o['dir'], 'register');
