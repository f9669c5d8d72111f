// Preloaded into PouchDB Server (`node --require scripts/couch-guard.js ...`) by
// scripts/couchdb.sh: refuses every request PouchDB Server did not authenticate, as
// Apache CouchDB does with `[chttpd] require_valid_user = true`.
//
// Why: PouchDB Server 4.2 honours no such setting, and an anonymous `PUT /anything` ends
// the whole process (`TypeError: db.info is not a function` in express-pouchdb's
// database-creation route; pouchdb-server#374). A proxy in front would leave the real
// server listening on another local port; running inside the process leaves no way round.
//
// How: express-pouchdb builds its app from one module per route, in a fixed order, and its
// `routes/authentication` module installs the middleware that decides who the caller is
// (`req.couchSession`, from the AuthSession cookie or Basic credentials; wrong credentials
// are already a 401 there). This file replaces that module's export, before PouchDB Server
// loads it, with one that installs the original middleware and then ours, so ours runs
// before any database, document or `_changes` route. Node's standard library only.
"use strict";

const path = require("path");

const SERVER_DIR = path.dirname(require.resolve("pouchdb-server/package.json", {
  paths: [path.join(__dirname, "..")],
}));
const AUTH_MODULE = require.resolve("express-pouchdb/lib/routes/authentication.js", {
  paths: [SERVER_DIR],
});

// Anonymous callers may only log in or out with a cookie session: nothing else.
const OPEN = new Set(["POST /_session", "DELETE /_session"]);
// `PUT /<db>` creates a database: the route that crashes on a caller it cannot authorize.
const CREATE_DB = /^\/[^/]+\/?$/;

function refuse(res, status, reason) {
  const body = JSON.stringify({ error: "unauthorized", reason: reason }) + "\n";
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "WWW-Authenticate": 'Basic realm="server"',
    "Cache-Control": "must-revalidate",
  });
  res.end(body);
}

function requireValidUser(req, res, next) {
  const ctx = (req.couchSession && req.couchSession.userCtx) || {};
  if (!ctx.name) {
    if (OPEN.has(req.method + " " + req.path)) return next();
    return refuse(res, 401, "Authentication required.");
  }
  if (req.method === "PUT" && CREATE_DB.test(req.path) && !(ctx.roles || []).includes("_admin")) {
    return refuse(res, 401, "You are not a server admin.");
  }
  return next();
}

const installAuthentication = require(AUTH_MODULE);
require.cache[AUTH_MODULE].exports = function authenticationThenGuard(app) {
  installAuthentication(app);
  app.use(requireValidUser);
};
