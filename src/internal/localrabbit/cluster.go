package localrabbit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ClusterOptions shape a cluster.
type ClusterOptions struct {
	// Nodes is the cluster size (3 when 0).
	Nodes int
	// Netns runs each node in a network namespace of its own on a private
	// bridge, so that Partition can cut one off. It needs root.
	Netns bool
}

// Cluster is a RabbitMQ cluster of local nodes sharing one Erlang cookie,
// with cluster_partition_handling = pause_minority.
type Cluster struct {
	script string
	dir    string
	nodes  []*Broker
	names  []string
}

// StartCluster starts (or restarts) the cluster kept in dir. Like Start, it
// is stopped by a watchdog if this process dies without calling Stop, and
// then its network namespaces are removed too.
func StartCluster(ctx context.Context, script, dir string, o ClusterOptions) (*Cluster, error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Netns && os.Geteuid() != 0 {
		return nil, errors.New("start rabbitmq cluster: network namespaces need root")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("start rabbitmq cluster: %w", err)
	}
	var env []string
	if o.Netns {
		env = append(env, "RABBITMQ_NETNS=1")
	}
	c := &Cluster{script: script, dir: dir}
	out, err := runScriptEnv(ctx, script, env, "cluster-start", dir, strconv.Itoa(o.Nodes))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start rabbitmq cluster in %s: %w", dir, err), c.Stop(context.WithoutCancel(ctx)))
	}
	urls := strings.Fields(out)
	if len(urls) != o.Nodes {
		return nil, errors.Join(fmt.Errorf("start rabbitmq cluster in %s: want %d urls, got %q", dir, o.Nodes, out), c.Stop(context.WithoutCancel(ctx)))
	}
	for i, u := range urls {
		b := &Broker{script: script, dir: filepath.Join(dir, "node-"+strconv.Itoa(i+1)), url: u}
		name, err := b.run(ctx, "name")
		if err != nil {
			return nil, errors.Join(fmt.Errorf("name of node %d: %w", i+1, err), c.Stop(context.WithoutCancel(ctx)))
		}
		c.nodes = append(c.nodes, b)
		c.names = append(c.names, strings.TrimSpace(name))
	}
	return c, nil
}

// Stop stops every node and removes the namespaces; the data is kept.
func (c *Cluster) Stop(ctx context.Context) error {
	if _, err := runScript(ctx, c.script, "", "cluster-stop", c.dir); err != nil {
		return fmt.Errorf("stop rabbitmq cluster in %s: %w", c.dir, err)
	}
	return nil
}

// Nodes are the cluster's nodes, in order: node i is Nodes()[i].
func (c *Cluster) Nodes() []*Broker { return c.nodes }

// URLs are the nodes' AMQP URLs, in node order.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.URL()
	}
	return urls
}

// Dir is the cluster's state directory.
func (c *Cluster) Dir() string { return c.dir }

// Partition cuts node i off from the other nodes and from this host (its
// link to the bridge goes down); Heal reconnects it. Both need Netns.
func (c *Cluster) Partition(ctx context.Context, i int) error { return c.link(ctx, "partition", i) }

// Heal undoes Partition.
func (c *Cluster) Heal(ctx context.Context, i int) error { return c.link(ctx, "heal", i) }

func (c *Cluster) link(ctx context.Context, verb string, i int) error {
	if _, err := runScript(ctx, c.script, "", verb, c.dir, strconv.Itoa(i+1)); err != nil {
		return fmt.Errorf("%s node %d: %w", verb, i, err)
	}
	return nil
}

// QueueMembers asks node via which nodes hold a replica of the quorum
// queue named queue in the default virtual host, and returns their indexes.
func (c *Cluster) QueueMembers(ctx context.Context, via int, queue string) ([]int, error) {
	if strings.ContainsAny(queue, `"\`) {
		return nil, fmt.Errorf("queue name %q cannot be quoted", queue)
	}
	expr := fmt.Sprintf(`{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"/">>, queue, <<"%s">>)), maps:get(nodes, amqqueue:get_type_state(Q)).`, queue)
	out, err := c.nodes[via].Ctl(ctx, "eval", expr)
	if err != nil {
		return nil, err
	}
	var members []int
	for _, name := range strings.Split(strings.Trim(strings.TrimSpace(out), "[]"), ",") {
		i, err := c.index(strings.Trim(strings.TrimSpace(name), "'"))
		if err != nil {
			return nil, fmt.Errorf("replicas of %s: %w", queue, err)
		}
		members = append(members, i)
	}
	return members, nil
}

func (c *Cluster) index(node string) (int, error) {
	for i, name := range c.names {
		if name == node {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%q is not a node of this cluster", node)
}

// QueueLeader asks node via (any running one) which node leads the quorum
// queue named queue in the default virtual host, and returns its index.
func (c *Cluster) QueueLeader(ctx context.Context, via int, queue string) (int, error) {
	if strings.ContainsAny(queue, `"\`) {
		return -1, fmt.Errorf("queue name %q cannot be quoted", queue)
	}
	expr := fmt.Sprintf(`{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"/">>, queue, <<"%s">>)), {_, Leader} = amqqueue:get_pid(Q), Leader.`, queue)
	out, err := c.nodes[via].Ctl(ctx, "eval", expr)
	if err != nil {
		return -1, err
	}
	i, err := c.index(strings.Trim(strings.TrimSpace(out), "'"))
	if err != nil {
		return -1, fmt.Errorf("leader of %s: %w", queue, err)
	}
	return i, nil
}
