"""Workshop mode: one shared registry for a class, a namespace and a password per learner, a live dashboard.

    accounts     names, passwords (bcrypt hashes only on the server), the access policy
    pki          the workshop's CA, token-signing and TLS certificates
    tokens       signing/verifying registry JWTs; refresh tokens stored as sha256
    tokenserver  the registry token protocol over HTTP (Basic, OAuth2 password and refresh grants)
    board        pure: events and check results → the learner × exercise grid and grades
    dashboard    the instructor's live page and the endpoints feeding it
    create       `workshop init`: accounts, certificates, registry config, handout
    control      `workshop up/down/status`: the registry container and the services process
    join         the learner's `labsupport join` and result reporting

Its commands (`labsupport workshop …`, `labsupport join`) are in labsupport.cli.workshop.
The instructor's guide, and how to scale past one machine, is docs/workshop.md.
"""
