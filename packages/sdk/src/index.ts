export const PACKAGE_NAME = '@troupe/sdk';
