package amqpconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/internal/tlstest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
)

// The package's broker listens for AMQPS with a private CA and requires
// client certificates; certs are the files it was started with.
var (
	broker *rabbitmqtest.Broker
	ca     *tlstest.CA
	certs  tlstest.Files
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	var remove func()
	var err error
	if ca, certs, remove, err = tlstest.TempFiles("amqpconn test CA"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer remove()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b, stop, err := rabbitmqtest.StartTLS(ctx, certs.Dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	broker = b
	return m.Run()
}

func dialCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDialTLS(t *testing.T) {
	if !strings.HasPrefix(broker.TLSURL(), "amqps://127.0.0.1") && !strings.HasPrefix(broker.TLSURL(), "amqps://guest:guest@127.0.0.1:") {
		t.Fatalf("tls url %q", broker.TLSURL())
	}
	conn, err := Dial(dialCtx(t), Config{
		URL: broker.TLSURL(), CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey,
		ConnectionName: t.Name(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	state := conn.ConnectionState()
	if !state.HandshakeComplete || len(state.PeerCertificates) == 0 || state.PeerCertificates[0].Subject.CommonName != "localhost" {
		t.Fatalf("tls state: complete=%v peers=%d", state.HandshakeComplete, len(state.PeerCertificates))
	}
	t.Logf("negotiated %s", tls.VersionName(state.Version))
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.PublishWithContext(dialCtx(t), "", q.Name, false, false, amqp.Publishing{Body: []byte("over tls")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, ok, err := ch.Get(q.Name, true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if string(d.Body) != "over tls" {
				t.Fatalf("body %q", d.Body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("message published over tls never arrived")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTLSVersions records which versions Debian's RabbitMQ 3.10 on Erlang 25
// accepts with the script's configuration: 1.2 and 1.3, nothing older.
func TestTLSVersions(t *testing.T) {
	tests := []struct {
		version uint16
		wantErr bool
	}{
		{version: tls.VersionTLS13},
		{version: tls.VersionTLS12},
		{version: tls.VersionTLS11, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tls.VersionName(tt.version), func(t *testing.T) {
			cfg, err := Config{URL: broker.TLSURL(), CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}.TLSConfig()
			if err != nil {
				t.Fatal(err)
			}
			cfg.MinVersion, cfg.MaxVersion = tt.version, tt.version
			conn, err := amqp.DialTLS(broker.TLSURL(), cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("dial: err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				t.Logf("refused: %v", err)
				return
			}
			defer conn.Close()
			if got := conn.ConnectionState().Version; got != tt.version {
				t.Fatalf("negotiated %s", tls.VersionName(got))
			}
		})
	}
}

func TestDialTLSFailures(t *testing.T) {
	refused, err := ca.WriteRefused(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, expiredCert, expiredKey := refused.Other, refused.ExpiredCert, refused.ExpiredKey
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "server not trusted",
			cfg:  Config{URL: broker.TLSURL(), CAFile: other.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey},
			want: "not trusted by the ca file " + other.CA + " (AMQP_CA_FILE): tls: failed to verify certificate: x509: certificate signed by unknown authority",
		},
		{
			name: "no client certificate",
			cfg:  Config{URL: broker.TLSURL(), CAFile: certs.CA},
			want: "may require a client certificate (AMQP_CERT_FILE, AMQP_KEY_FILE): remote error: tls: certificate required",
		},
		{
			name: "client certificate from another CA",
			cfg:  Config{URL: broker.TLSURL(), CAFile: certs.CA, CertFile: other.ClientCert, KeyFile: other.ClientKey},
			want: "certificate required",
		},
		{
			name: "expired client certificate",
			cfg:  Config{URL: broker.TLSURL(), CAFile: certs.CA, CertFile: expiredCert, KeyFile: expiredKey},
			want: "refused the client certificate " + expiredCert + " (AMQP_CERT_FILE): remote error: tls: expired certificate",
		},
		{
			name: "wrong password over tls",
			cfg:  Config{URL: strings.Replace(broker.TLSURL(), "guest:guest@", "guest:wrong@", 1), CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey},
			want: "dial rabbitmq: Exception (403) Reason: \"username or password not allowed\"",
		},
		{
			name: "plain amqp port",
			cfg:  Config{URL: strings.Replace(broker.URL(), "amqp://", "amqps://", 1), CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey},
			want: "tls handshake: tls: first record does not look like a TLS handshake",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := Dial(dialCtx(t), tt.cfg)
			if err == nil {
				conn.Close()
				t.Fatal("dial succeeded")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// countingConn counts the writes that reach it.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestDialWrapConn(t *testing.T) {
	for name, url := range map[string]string{"amqp": broker.URL(), "amqps": broker.TLSURL()} {
		t.Run(name, func(t *testing.T) {
			var wrapped *countingConn
			cfg := Config{URL: url, WrapConn: func(c net.Conn) net.Conn {
				wrapped = &countingConn{Conn: c}
				return wrapped
			}}
			if name == "amqps" {
				cfg.CAFile, cfg.CertFile, cfg.KeyFile = certs.CA, certs.ClientCert, certs.ClientKey
			}
			conn, err := Dial(dialCtx(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if wrapped == nil || wrapped.writes.Load() == 0 {
				t.Fatal("amqp frames did not go through the wrapper")
			}
			if _, isTLS := wrapped.Conn.(*tlsSession); isTLS != (name == "amqps") {
				t.Fatalf("wrapper sits on %T", wrapped.Conn)
			}
		})
	}
}

// TestDialFailsOver gives Dial a refusing address beside the broker: every
// dial reaches the broker, whatever order the addresses are tried in, and
// with no broker up the error names each address.
func TestDialFailsOver(t *testing.T) {
	dead := "amqp://guest:guest@127.0.0.1:1/"
	for range 6 {
		conn, err := Dial(dialCtx(t), Config{URLs: []string{dead, broker.URL()}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := conn.RemoteAddr().String(), fmt.Sprintf("127.0.0.1:%d", broker.Port()); got != want {
			t.Errorf("connected to %s, want %s", got, want)
		}
		conn.Close()
	}
	_, err := Dial(dialCtx(t), Config{URLs: []string{dead, "amqp://guest:secret@127.0.0.1:2/"}})
	if err == nil {
		t.Fatal("dial of two dead addresses succeeded")
	}
	for _, want := range []string{"no broker of 2 answered", "127.0.0.1:1", "127.0.0.1:2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows a password", err)
	}
}
