-- Grants beyond a role's defaults, e.g. an executive allowed to see resource-level lines.
CREATE TABLE user_grant (
    username    VARCHAR NOT NULL,
    grant_name  VARCHAR NOT NULL,
    granted_by  VARCHAR NOT NULL,
    granted_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (username, grant_name)
);
