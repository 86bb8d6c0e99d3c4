// Package tlsint holds the integration tests of the fitness data path over
// TLS: the web app's publisher and the consumer reach a real RabbitMQ through
// amqps with a client certificate, and the consumer writes to the embedded
// MongoDB-compatible server through mutual TLS, with certificates made at
// test time by tlstest. It has no code of its own.
package tlsint
