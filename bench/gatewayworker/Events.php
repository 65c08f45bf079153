<?php
// The chat of bench case `gatewayworker` (chat.ts drives it): the business
// logic a chat room has in GatewayWorker, with the room kept in the session.
//   "join:GROUP"  joins GROUP, keeps it in $_SESSION, answers "joined:GROUP";
//   "c"           answers "in:GROUP" from the session (the client's check that
//                 the session update has reached its Gateway);
//   "m…"          a chat message: to every member of the sender's group, the
//                 sender too, as it came (Gateway::sendToGroup).
use GatewayWorker\Lib\Gateway;

class Events
{
    public static function onMessage($client_id, $message)
    {
        switch ($message[0] ?? '') {
            case 'm':
                Gateway::sendToGroup($_SESSION['group'], $message);
                return;
            case 'j':
                $group = substr($message, 5);
                Gateway::joinGroup($client_id, $group);
                $_SESSION['group'] = $group;
                Gateway::sendToClient($client_id, "joined:$group");
                return;
            case 'c':
                Gateway::sendToClient($client_id, 'in:' . ($_SESSION['group'] ?? ''));
                return;
        }
    }
}
