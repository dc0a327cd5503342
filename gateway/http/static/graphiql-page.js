// The gateway's GraphiQL page: GraphiQL with the explorer plugin, over this server's /graphql.
// The endpoint and the services' example query come from the page's JSON block
// (gateway/http/graphiql.py).
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("graphiql-config").textContent);
  const fetcher = GraphiQL.createFetcher({ url: config.endpoint });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    }),
  );
})();
