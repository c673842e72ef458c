/** A file imported with `?raw` is its text (Vite natively; webpack by the `asset/source` rule in webpack.config.js). */
declare module '*?raw' {
  const text: string;
  export default text;
}
