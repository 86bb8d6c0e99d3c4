// Package tlstest makes certificates for tests of TLS connections to the
// loopback servers: a private CA, a server certificate for 127.0.0.1, ::1 and
// localhost, and client certificates, written as PEM files. It is the one
// test PKI of the module: the application's TLS tests and the end-to-end
// test's throw-away Kubernetes control plane both use it.
//
//	ca, err := tlstest.NewCA("test CA")
//	files, err := ca.WriteFiles(dir) // ca.pem, server.pem, server-key.pem, client.pem, ...
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// validity is how long certificates are valid from now (they start an hour
// in the past, so clock differences between processes never matter).
const validity = 24 * time.Hour

// CA is a certificate authority that signs leaf certificates.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the CA certificate, PEM-encoded.
	PEM []byte
}

// Leaf is an issued certificate and its key, PEM-encoded.
type Leaf struct {
	CertPEM []byte
	KeyPEM  []byte
}

// Usage says what a leaf certificate is for.
type Usage int

const (
	// Server certificates name 127.0.0.1, ::1 and localhost.
	Server Usage = iota
	// Client certificates authenticate a client to the server.
	Client
)

// LeafOptions shapes an issued certificate.
type LeafOptions struct {
	// CommonName is the subject's common name.
	CommonName string
	Usage      Usage
	// NotAfter overrides the end of validity; a time in the past makes an
	// expired certificate. Zero means a day from now.
	NotAfter time.Time
	// Hosts overrides the names and addresses a server certificate is valid
	// for (IP addresses or DNS names); empty means 127.0.0.1, ::1 and
	// localhost.
	Hosts []string
	// Groups are the subject's organizations ("homelab tests" when empty):
	// Kubernetes reads a client certificate's groups from them.
	Groups []string
}

// NewCA makes a self-signed CA.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"homelab tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse ca certificate: %w", err)
	}
	return &CA{cert: cert, key: key, PEM: encode("CERTIFICATE", der)}, nil
}

// Issue signs a new leaf certificate.
func (ca *CA) Issue(opts LeafOptions) (Leaf, error) {
	if opts.CommonName == "" {
		return Leaf{}, errors.New("issue certificate: common name is empty")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, fmt.Errorf("generate key for %s: %w", opts.CommonName, err)
	}
	serial, err := serialNumber()
	if err != nil {
		return Leaf{}, err
	}
	now := time.Now()
	notBefore, notAfter := now.Add(-time.Hour), now.Add(validity)
	if !opts.NotAfter.IsZero() {
		notAfter = opts.NotAfter
		if !notAfter.After(notBefore) {
			notBefore = notAfter.Add(-validity)
		}
	}
	org := opts.Groups
	if len(org) == 0 {
		org = []string{"homelab tests"}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: opts.CommonName, Organization: org},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	switch opts.Usage {
	case Server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		hosts := opts.Hosts
		if len(hosts) == 0 {
			hosts = []string{"127.0.0.1", "::1", "localhost"}
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	case Client:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return Leaf{}, fmt.Errorf("issue certificate for %s: unknown usage %d", opts.CommonName, opts.Usage)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Leaf{}, fmt.Errorf("create certificate for %s: %w", opts.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Leaf{}, fmt.Errorf("encode key for %s: %w", opts.CommonName, err)
	}
	return Leaf{CertPEM: encode("CERTIFICATE", der), KeyPEM: encode("PRIVATE KEY", keyDER)}, nil
}

// Files names the PEM files written by WriteFiles.
type Files struct {
	// Dir holds every file below; it is what scripts/rabbitmq.sh takes as
	// RABBITMQ_TLS_DIR (ca.pem, server.pem, server-key.pem).
	Dir string
	// CA is the CA certificate (ca.pem).
	CA string
	// ServerCert and ServerKey are the server's certificate and key.
	ServerCert, ServerKey string
	// ClientCert and ClientKey are a valid client certificate and its key.
	ClientCert, ClientKey string
	// ClientCertKey holds the client certificate followed by its key, as
	// MongoDB's tlsCertificateKeyFile wants them.
	ClientCertKey string
}

// WriteFiles issues a server and a client certificate and writes them with
// the CA certificate into dir.
func (ca *CA) WriteFiles(dir string) (Files, error) {
	server, err := ca.Issue(LeafOptions{CommonName: "localhost", Usage: Server})
	if err != nil {
		return Files{}, err
	}
	client, err := ca.Issue(LeafOptions{CommonName: "fitness-client", Usage: Client})
	if err != nil {
		return Files{}, err
	}
	f := Files{
		Dir:           dir,
		CA:            filepath.Join(dir, "ca.pem"),
		ServerCert:    filepath.Join(dir, "server.pem"),
		ServerKey:     filepath.Join(dir, "server-key.pem"),
		ClientCert:    filepath.Join(dir, "client.pem"),
		ClientKey:     filepath.Join(dir, "client-key.pem"),
		ClientCertKey: filepath.Join(dir, "client-cert-key.pem"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Files{}, fmt.Errorf("write certificates: %w", err)
	}
	for path, data := range map[string][]byte{
		f.CA:            ca.PEM,
		f.ServerCert:    server.CertPEM,
		f.ServerKey:     server.KeyPEM,
		f.ClientCert:    client.CertPEM,
		f.ClientKey:     client.KeyPEM,
		f.ClientCertKey: append(append([]byte{}, client.CertPEM...), client.KeyPEM...),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return Files{}, fmt.Errorf("write certificates: %w", err)
		}
	}
	return f, nil
}

// WriteLeaf writes a leaf's certificate and key as name.pem and
// name-key.pem in dir and returns their paths.
func WriteLeaf(dir, name string, l Leaf) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, l.CertPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("write %s certificate: %w", name, err)
	}
	if err := os.WriteFile(keyFile, l.KeyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("write %s key: %w", name, err)
	}
	return certFile, keyFile, nil
}

// Refused are client credentials a server that trusts ca must refuse.
type Refused struct {
	// Other are the files of another CA: its CA certificate (which does not
	// trust ca's server) and a client certificate ca did not sign.
	Other Files
	// ExpiredCert and ExpiredKey are a client certificate of ca that
	// expired an hour ago.
	ExpiredCert, ExpiredKey string
}

// WriteRefused writes, under dir, the credentials of Refused.
func (ca *CA) WriteRefused(dir string) (Refused, error) {
	otherCA, err := NewCA("another CA")
	if err != nil {
		return Refused{}, err
	}
	other, err := otherCA.WriteFiles(filepath.Join(dir, "other"))
	if err != nil {
		return Refused{}, err
	}
	expired, err := ca.Issue(LeafOptions{CommonName: "expired", Usage: Client, NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		return Refused{}, err
	}
	cert, key, err := WriteLeaf(dir, "expired", expired)
	if err != nil {
		return Refused{}, err
	}
	return Refused{Other: other, ExpiredCert: cert, ExpiredKey: key}, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n, nil
}

func encode(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// TempFiles makes a CA named name and writes its files (WriteFiles) into a
// new temporary directory, for a TestMain that starts TLS servers before
// any test runs; remove deletes the directory.
func TempFiles(name string) (ca *CA, files Files, remove func(), err error) {
	dir, err := os.MkdirTemp("", "tlstest-")
	if err != nil {
		return nil, Files{}, nil, fmt.Errorf("certificate directory: %w", err)
	}
	remove = func() { os.RemoveAll(dir) }
	if ca, err = NewCA(name); err == nil {
		files, err = ca.WriteFiles(dir)
	}
	if err != nil {
		remove()
		return nil, Files{}, nil, err
	}
	return ca, files, remove, nil
}
