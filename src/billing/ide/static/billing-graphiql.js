// Starts GraphiQL on this server's /graphql, with the example document from the page.
// Subscriptions go over a WebSocket to the same address (graphql-transport-ws, which GraphiQL's
// bundle speaks); it sends the Headers tab as its connection_init payload.
// A link ending in #token=<secret> puts "Authorization: Bearer <secret>" into the Headers tab;
// the fragment never reaches the server, and it is removed from the address at once.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("billing-graphiql-config").textContent);
  var headers;
  if (window.location.hash.indexOf("#token=") === 0) {
    var token = decodeURIComponent(window.location.hash.slice("#token=".length));
    headers = JSON.stringify({ Authorization: "Bearer " + token }, null, 2);
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var url = window.location.origin + window.location.pathname;
  var fetcher = GraphiQL.createFetcher({
    url: url,
    subscriptionUrl: url.replace(/^http/, "ws"),
  });
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      query: config.query,
      variables: config.variables,
      headers: headers,
      defaultEditorToolsVisibility: "variables",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
    }),
  );
})();
