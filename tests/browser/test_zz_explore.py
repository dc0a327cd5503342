import json, time
from tests.browser.conftest import *  # noqa

def test_explore(gateway_app, live_server, open_page):
    server = live_server(gateway_app())
    bp = open_page(server.origin)
    page = bp.page
    page.goto(server.origin + "/graphql")
    page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=20000)
    time.sleep(1)
    print(page.evaluate("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"))
    print([ (b.get_attribute("aria-label"), b.get_attribute("class")) for b in page.query_selector_all("button")])
    page.screenshot(path="/tmp/g1.png")
    print(bp.requests, bp.errors, bp.foreign_requests)
