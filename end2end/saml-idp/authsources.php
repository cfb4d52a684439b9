<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'ada:ada-password' => [
            'uid' => ['ada'],
            'email' => ['ada@example.com'],
            'givenName' => ['Ada'],
            'sn' => ['Lovelace'],
            'groups' => ['eng', 'admins'],
        ],
        'bob:bob-password' => [
            'uid' => ['bob'],
            'email' => ['bob@other.test'],
            'groups' => ['sales'],
        ],
    ],
];
