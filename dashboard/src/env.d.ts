// Modules the build provides: the panel list (scripts/build-dashboard.mjs) and CSS files.
declare module 'strata:panels';
declare module '*.css';
