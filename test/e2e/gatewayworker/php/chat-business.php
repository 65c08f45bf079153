<?php
// php chat-business.php --dir DIR --register HOST:PORT --count N
// BusinessWorker processes running workerman-chat's Events.php as that
// project ships it (test/peers/workerman/workerman-chat/), the application
// nobody here wrote: sessions, groups, private messages, onClose.
require __DIR__ . '/bootstrap.php';
require peers_dir() . '/autoload.php';
require peers_dir() . '/workerman-chat/Events.php';

$o = options(['dir', 'register', 'count']);
$worker = new GatewayWorker\BusinessWorker();
$worker->name = 'ChatBusinessWorker';
$worker->count = (int)$o['count'];
$worker->registerAddress = $o['register'];
$worker->eventHandler = 'Events';
run_workers($o['dir'], 'chat-business');
