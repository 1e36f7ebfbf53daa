// Package e2e holds end-to-end tests of h2rpc's client against its server
// over real loopback connections. It has no code of its own besides a small
// echo service for those tests.
package e2e
