"""What the tests share: factories, the real services they start (PostgreSQL clusters of their
own, provider stand-ins), and the request fuzzer. No tests here."""
