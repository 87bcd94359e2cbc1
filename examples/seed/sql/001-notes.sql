CREATE TABLE IF NOT EXISTS notes (
    id serial PRIMARY KEY,
    body text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO notes (body) VALUES
    ('Docker-in-Docker over TLS'),
    ('one image per pipeline'),
    ('no Docker Compose in CI')
ON CONFLICT (body) DO NOTHING;
