"""The local OpenSearch node: built from Maven Central by ``engine/pom.xml``, run by :mod:`engine.local_node`.

The rest of lookalike reaches this node only through its HTTP URL, like any other cluster.
"""
