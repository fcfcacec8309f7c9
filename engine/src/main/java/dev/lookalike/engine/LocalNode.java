package dev.lookalike.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;

/**
 * Runs a single OpenSearch node with its plugins loaded from the classpath.
 *
 * <p>The OpenSearch tar.gz distribution cannot be had on every machine, but its
 * jars and the k-NN plugin zip are on Maven Central. This launcher runs them as
 * one node, configured entirely by {@code -Ekey=value} arguments (the same syntax
 * as the {@code opensearch} script), and shuts it down cleanly on SIGTERM.
 *
 * <p>Nothing in the Python code depends on this class: clients reach the node by
 * its HTTP URL, exactly as they would reach a managed cluster.
 */
public final class LocalNode {

    /** Plugins that a product index needs; the k-NN plugin is loaded by name as it is not a compile dependency. */
    private static final String[] PLUGIN_CLASSES = {
        "org.opensearch.transport.Netty4Plugin",
        "org.opensearch.painless.PainlessPlugin",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "org.opensearch.index.reindex.ReindexPlugin",
        "org.opensearch.knn.plugin.KNNPlugin",
    };

    private LocalNode() {}

    /** Node.java keeps the constructor that takes classpath plugins protected; this subclass opens it. */
    private static final class PluginNode extends Node {
        PluginNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        Settings settings = parseSettings(args);
        // Log4j configures itself from the log4j2.properties on the classpath; OpenSearch's
        // LogConfigurator.configureWithoutConfig would replace that with a status-only setup.
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(settings.get("node.name", "lookalike-local"));

        Path home = Path.of(settings.get("path.home"));
        Files.createDirectories(home.resolve("config"));
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Collections.emptyMap(), home.resolve("config"), () -> settings.get("node.name", "lookalike-local"));

        wirePainlessExtensions();

        Node node = new PluginNode(environment, loadPlugins());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "lookalike-node-shutdown"));

        node.start();
        System.out.println("lookalike: node started");
        stopped.await();
    }

    /**
     * Classpath plugins get no extended-plugin wiring in OpenSearch 2.19, so Painless never
     * sees k-NN's allowlist (cosineSimilarity, l2Squared, ...). PainlessPlugin keeps its
     * allowlists in a static map, so loading the extensions once through ServiceLoader,
     * before the node builds its script engine, gives the node's Painless the same functions
     * a packaged install has.
     */
    private static void wirePainlessExtensions() {
        new PainlessPlugin().loadExtensions(new org.opensearch.plugins.ExtensiblePlugin.ExtensionLoader() {
            @Override
            public <T> List<T> loadExtensions(Class<T> extensionPointType) {
                List<T> found = new ArrayList<>();
                ServiceLoader.load(extensionPointType, LocalNode.class.getClassLoader()).forEach(found::add);
                return found;
            }
        });
    }

    @SuppressWarnings("unchecked")
    private static Collection<Class<? extends Plugin>> loadPlugins() throws ClassNotFoundException {
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (String name : PLUGIN_CLASSES) {
            plugins.add((Class<? extends Plugin>) Class.forName(name));
        }
        return plugins;
    }

    private static Settings parseSettings(String[] args) {
        Settings.Builder builder = Settings.builder();
        for (String arg : args) {
            if (!arg.startsWith("-E") || !arg.contains("=")) {
                throw new IllegalArgumentException("expected -Ekey=value, got: " + arg);
            }
            String pair = arg.substring(2);
            int eq = pair.indexOf('=');
            builder.put(pair.substring(0, eq), pair.substring(eq + 1));
        }
        if (builder.get("path.home") == null) {
            throw new IllegalArgumentException("-Epath.home=... is required");
        }
        return builder.build();
    }
}
