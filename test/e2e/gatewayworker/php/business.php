<?php
// php business.php --dir DIR --register HOST:PORT --name NAME --count N [--secret KEY]
//                  [--gateway-secret KEY] [--events-log FILE]
// BusinessWorker processes running Events.php. --gateway-secret gives the
// Gateways another key than the Register (a BusinessWorker the Register lets
// in and a Gateway must refuse). --events-log: every event, one JSON line.
require __DIR__ . '/bootstrap.php';
require peers_dir() . '/autoload.php';
require __DIR__ . '/Events.php';

/** A BusinessWorker that may show the Gateways another secret key than the one it gave the Register. */
class KeyedBusinessWorker extends GatewayWorker\BusinessWorker
{
    public ?string $gatewaySecretKey = null;

    public function tryToConnectGateway($addr)
    {
        $key = $this->secretKey;
        if ($this->gatewaySecretKey !== null) $this->secretKey = $this->gatewaySecretKey;
        try {
            parent::tryToConnectGateway($addr);
        } finally {
            $this->secretKey = $key;
        }
    }
}

$o = options(['dir', 'register', 'name', 'count'], ['secret', 'gateway-secret', 'events-log']);
Events::$log = $o['events-log'] ?? null;
$worker = new KeyedBusinessWorker();
$worker->name = $o['name'];
$worker->count = (int)$o['count'];
$worker->registerAddress = $o['register'];
$worker->secretKey = $o['secret'] ?? '';
$worker->gatewaySecretKey = $o['gateway-secret'] ?? null;
$worker->eventHandler = 'Events';
run_workers($o['dir'], "business-{$o['name']}");
