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
        // The browser tests' user: a domain of its own, as example.com
        // is everybody's in the shared e2e database.
        'grace:grace-password' => [
            'uid' => ['grace'],
            'email' => ['grace@saml-e2e.test'],
            'givenName' => ['Grace'],
            'sn' => ['Hopper'],
            'groups' => ['eng', 'admins'],
        ],
        'bob:bob-password' => [
            'uid' => ['bob'],
            'email' => ['bob@other.test'],
            'groups' => ['sales'],
        ],
    ],
];
