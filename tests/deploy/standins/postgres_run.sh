#!/bin/sh
# Entrypoint of the PostgreSQL stand-in image: the official postgres image's contract (POSTGRES_USER, POSTGRES_PASSWORD,
# POSTGRES_DB, data in $PGDATA, initialised on first start only), with Debian's PostgreSQL, running as `postgres`.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=${POSTGRES_USER}}"
: "${POSTGRES_PASSWORD:?the official image requires POSTGRES_PASSWORD too}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "${PGDATA}" /var/run/postgresql
chown -R postgres:postgres "${PGDATA}" /var/run/postgresql
chmod 700 "${PGDATA}"
if [ ! -s "${PGDATA}/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "${POSTGRES_PASSWORD}" > "${pwfile}"
    chown postgres "${pwfile}"
    as_postgres initdb -D "${PGDATA}" -U "${POSTGRES_USER}" --pwfile="${pwfile}" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --no-instructions
    rm -f "${pwfile}"
    echo "host all all all scram-sha-256" >> "${PGDATA}/pg_hba.conf"
    echo "listen_addresses = '*'" >> "${PGDATA}/postgresql.conf"
    if [ "${POSTGRES_DB}" != "postgres" ]; then
        echo "CREATE DATABASE \"${POSTGRES_DB}\" OWNER \"${POSTGRES_USER}\"" \
            | as_postgres postgres --single -D "${PGDATA}" postgres >/dev/null
    fi
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "${PGDATA}"
