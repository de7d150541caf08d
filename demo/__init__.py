"""Evidence Hub's own demo site and a loopback static site server.

* :mod:`demo.content` - fictional sample publications (blog posts and reports) from the
  made-up "Northmoor Collaboration Observatory".
* :mod:`demo.build` - writes those publications as a static website (HTML pages and PDF
  reports) into a folder, deterministically.
* :mod:`demo.server` - serves any folder over HTTP on 127.0.0.1 with generated
  ``robots.txt``, ``sitemap.xml`` and ``feed.xml`` (stdlib only), for tests and the demo.
"""
